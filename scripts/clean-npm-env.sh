# Sourced by scripts that run npm installs of their own (scripts/setup-vscode.sh).
# Under `npm test` / `npm start` the outer npm (on Node 20) exports its configuration as
# npm_config_* and npm_* variables, NODE, and PATH entries for its node-gyp and
# node_modules/.bin. A nested install runs another Node and must read the user's own npm
# configuration instead: code-server's postinstall reads the Node version from
# npm_config_user_agent and refuses Node 20.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -i '^npm_' || true)
unset NODE INIT_CWD
PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e 'node-gyp-bin' -e '/node_modules/\.bin$' | paste -sd: -)"
export PATH
