// vitest's global setup: the CLI the tests start (dist/cli.mjs) is built from the current sources.
export { buildCli as setup } from "../scripts/build.mjs";
