import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests run the shared-notes command as a user does (dist/cli.mjs): build it from the sources first.
    globalSetup: ["test/buildCli.mjs"],
    exclude: ["test/vscode/**", "test/e2e/**", "**/node_modules/**"],
    // Tests assert behaviour, not speed: on a busy 2-core machine a real backend restart
    // can take seconds, so give every test room (benchmarks measure time).
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
