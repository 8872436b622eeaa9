// Lint for the whole tree: ESLint's and typescript-eslint's recommended rules everywhere,
// Convex's own rules for the server functions. `npm run lint`; `npm test` runs it first.
import js from "@eslint/js";
import convex from "@convex-dev/eslint-plugin";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "out/", "test-results/", "convex/_generated/", "test/vscode/fixtures/", "**/*.vsix", ".data/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...convex.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_`-prefixed names are deliberately unused (a parameter an interface requires).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // Control characters in patterns are how the text checks find them.
      "no-control-regex": "off",
    },
  },
  {
    // Filters scan; the functions read through indexes with bounds.
    files: ["convex/**/*.ts"],
    rules: { "@convex-dev/no-filter-in-query": "error" },
  },
  {
    // Browser automation: functions these pass to page.evaluate run in the workbench page.
    files: ["test/e2e/**/*.mjs", "harness/e2e/**/*.mjs", "bench/e2e.mjs"],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    // The backend's own test functions exercise older Convex syntax on purpose.
    files: ["harness/backendFixture/**"],
    rules: { "@convex-dev/explicit-table-ids": "off", "@convex-dev/no-filter-in-query": "off" },
  },
  {
    // CommonJS files loaded by the extension host's require.
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
