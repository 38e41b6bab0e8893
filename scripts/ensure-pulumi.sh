#!/usr/bin/env bash
# Makes a Pulumi CLI (plus the nodejs language host and the dynamic-provider plugin) available.
#
#   scripts/ensure-pulumi.sh          prints the bin directory to put first on PATH
#   . scripts/ensure-pulumi.sh        same, and exports PATH in the calling shell
#
# 1. A `pulumi` already on PATH (the official installer's) is used as it is; nothing is built.
#    Set BALLAST_FORCE_PINNED_PULUMI=1 to ignore it and use/build the pinned one below.
# 2. Otherwise the binaries live in $BALLAST_CACHE/pulumi-v$VERSION/bin, where VERSION is the
#    @pulumi/pulumi version pinned in package.json's devDependencies. When they are there, nothing is built.
# 3. Otherwise they are built with `go build` (only the Go module proxy is needed):
#    - pulumi: github.com/pulumi/pulumi/pkg/v3@v$VERSION, package cmd/pulumi, built from a
#      small wrapper module written into $BALLAST_CACHE/pulumi-v$VERSION/src/cli;
#    - pulumi-language-nodejs: our own minimal language host in tools/pulumi-language-nodejs
#      (Pulumi's own host module is not served by the Go module proxy; see docs/toolchain.md);
#    - pulumi-resource-pulumi-nodejs: a shell script running @pulumi/pulumi/cmd/dynamic-provider
#      from the node_modules of the directory the engine starts it in (the project dir).
# The language host is rebuilt (in seconds) whenever its sources change (stamp file).

# shellcheck source=scripts/progress.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/progress.sh"

# _ballast_go_build DIR MODFLAG OUT LDFLAGS PACKAGE: one static, trimmed go build in DIR.
_ballast_go_build() {
  (cd "$1" && GOFLAGS="$2 -buildvcs=false" CGO_ENABLED=0 go build -trimpath -ldflags "$4" -o "$3" "$5")
}

_ballast_pulumi_main() {
  local repo cache version dir bin src stamp want t0 t1
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cache="${BALLAST_CACHE:-$HOME/.cache/ballast}"

  if [ -z "${BALLAST_FORCE_PINNED_PULUMI:-}" ] && command -v pulumi >/dev/null 2>&1; then
    local found
    found="$(dirname "$(command -v pulumi)")"
    case "$found" in
      "$cache"/pulumi-v*/bin) ;; # our own cache dir already on PATH: fall through to the checks
      *)
        echo "ensure-pulumi: using pulumi from PATH: $found/pulumi ($(pulumi version 2>/dev/null))" >&2
        echo "$found"
        return 0
        ;;
    esac
  fi

  # The exact pin of devDependencies (peerDependencies holds the range users' programs may bring).
  version="${BALLAST_PULUMI_VERSION:-$(sed -n '/"devDependencies"/,/}/ s/^[[:space:]]*"@pulumi\/pulumi":[[:space:]]*"[\^~=v]*\([0-9][^"]*\)".*/\1/p' "$repo/package.json" | head -n1)}"
  if [ -z "$version" ]; then
    echo "ensure-pulumi: cannot read the @pulumi/pulumi version from $repo/package.json" >&2
    return 1
  fi
  dir="$cache/pulumi-v$version"
  bin="$dir/bin"
  mkdir -p "$bin" || return 1

  # --- the CLI -------------------------------------------------------------------------------
  if [ ! -x "$bin/pulumi" ]; then
    command -v go >/dev/null 2>&1 || { echo "ensure-pulumi: no pulumi on PATH and no go to build one" >&2; return 1; }
    echo "ensure-pulumi: building pulumi v$version with $(go version | cut -d' ' -f3) (first time only; takes minutes)" >&2
    src="$dir/src/cli"
    mkdir -p "$src" || return 1
    # The replace lines repeat those of pkg/v3's own go.mod (replace directives of dependencies are
    # ignored by Go): its `sdk/v3 => ../sdk` becomes the real released version, which also cures
    # placeholder requirements such as v3.0.0-00010101000000-000000000000.
    cat >"$src/go.mod" <<EOF
module ballast.local/pulumi-cli

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 v$version
	github.com/pulumi/pulumi/sdk/v3 v$version
)

replace github.com/pulumi/pulumi/sdk/v3 => github.com/pulumi/pulumi/sdk/v3 v$version

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
    cat >"$src/tools.go" <<'EOF'
//go:build tools

// Package tools only pins the Pulumi CLI's main package into this module's build list.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
EOF
    t0=$(date +%s)
    with_heartbeat ensure-pulumi "building pulumi v$version: go downloads its modules, then compiles them" \
      _ballast_go_build "$src" -mod=mod "$bin/pulumi.tmp" \
      "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ||
      { rm -f "$bin/pulumi.tmp"; echo "ensure-pulumi: building the pulumi CLI failed" >&2; return 1; }
    mv "$bin/pulumi.tmp" "$bin/pulumi"
    t1=$(date +%s)
    echo "ensure-pulumi: built $bin/pulumi in $((t1 - t0)) s" >&2
  fi

  # --- the nodejs language host (ours) -------------------------------------------------------
  src="$repo/tools/pulumi-language-nodejs"
  stamp="$bin/.pulumi-language-nodejs.stamp"
  if [ -d "$src" ]; then
    want="$(cd "$src" && { echo "$version"; cat go.mod go.sum *.go; } 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$bin/pulumi-language-nodejs" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
      command -v go >/dev/null 2>&1 || { echo "ensure-pulumi: go is needed to build the language host" >&2; return 1; }
      t0=$(date +%s)
      echo "ensure-pulumi: building the nodejs language host ($src)" >&2
      with_heartbeat ensure-pulumi "building the nodejs language host" \
        _ballast_go_build "$src" -mod=readonly "$bin/pulumi-language-nodejs.tmp" "-s -w -X main.version=$version" . ||
        { rm -f "$bin/pulumi-language-nodejs.tmp"; echo "ensure-pulumi: building the language host failed" >&2; return 1; }
      mv "$bin/pulumi-language-nodejs.tmp" "$bin/pulumi-language-nodejs"
      echo "$want" >"$stamp"
      t1=$(date +%s)
      echo "ensure-pulumi: built $bin/pulumi-language-nodejs in $((t1 - t0)) s" >&2
    fi
  elif [ ! -x "$bin/pulumi-language-nodejs" ]; then
    echo "ensure-pulumi: $src is missing; cannot build the nodejs language host" >&2
    return 1
  fi

  # --- the dynamic-provider plugin -------------------------------------------------------------
  # The engine starts it with cwd = the project directory; resolve @pulumi/pulumi from there.
  if [ ! -x "$bin/pulumi-resource-pulumi-nodejs" ]; then
    cat >"$bin/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
exec node "$(node -e 'process.stdout.write(require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js", { paths: [process.cwd()] }))')" "$@"
EOF
    chmod +x "$bin/pulumi-resource-pulumi-nodejs"
  fi

  echo "$bin"
}

_ballast_pulumi_bin="$(_ballast_pulumi_main)" || { echo "ensure-pulumi: failed" >&2; return 1 2>/dev/null || exit 1; }
case ":$PATH:" in *":$_ballast_pulumi_bin:"*) ;; *) export PATH="$_ballast_pulumi_bin:$PATH" ;; esac
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "ensure-pulumi: pulumi is in $_ballast_pulumi_bin; put it on PATH with:" >&2
  echo "  export PATH=\"$_ballast_pulumi_bin:\$PATH\"   (or: . scripts/ensure-pulumi.sh)" >&2
  echo "$_ballast_pulumi_bin"
else
  echo "ensure-pulumi: PATH now starts with $_ballast_pulumi_bin" >&2
fi
unset _ballast_pulumi_bin
