import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// What a nested install sees after scripts/clean-npm-env.sh, when started the way
// `npm test` and `npm start` start it: from inside an npm run.
function envInsideNpmRun(script: string): Map<string, string> {
  const run = spawnSync("npm", ["exec", "--yes=false", "-c", `bash -c '${script}; env -0'`], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return new Map(
    run.stdout
      .split("\0")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as [string, string]),
  );
}

describe("nested installs under npm", () => {
  it("an npm run exports the outer npm's user agent (what broke code-server's install)", () => {
    expect(envInsideNpmRun("true").get("npm_config_user_agent")).toMatch(/node\/v/);
  });

  it("inherit none of the outer npm's configuration after clean-npm-env.sh", () => {
    const env = envInsideNpmRun("source scripts/clean-npm-env.sh");
    expect([...env.keys()].filter((k) => /^npm_/i.test(k))).toEqual([]);
    expect(env.has("NODE")).toBe(false);
    expect(env.get("PATH")?.split(":").filter((p) => p.includes("node-gyp-bin") || p.endsWith("/node_modules/.bin"))).toEqual([]);
    expect(env.get("PATH")).toContain("/usr/bin");
  });
});
