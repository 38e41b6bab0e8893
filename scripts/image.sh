#!/usr/bin/env bash
# Builds the data plane image from this repository and prints its tag on stdout.
#
#   bash scripts/image.sh              -> ballast-dataplane:dev
#   BALLAST_IMAGE=ballast-dataplane:0.1.0 bash scripts/image.sh
#
# 1. `npm run bundle` (esbuild) writes build/image/ (main.js, worker-main.js, healthcheck.js).
#    node_modules must be installed (`npm ci`); `npm run build` is not needed for the image.
# 2. `docker build` with the repository's Dockerfile. The base image (BASE_IMAGE build arg) is:
#    - $BALLAST_BASE_IMAGE when set;
#    - else the local base `ballast-base-node:<node version>` when it exists (made by
#      scripts/ensure-docker.sh where no registry can be reached, as on our CI machines);
#    - else the Dockerfile's pinned official image, when present or `docker pull` gets it
#      within $BALLAST_PULL_TIMEOUT seconds (default 60);
#    - else the local base, made now by scripts/ensure-docker.sh.
#    The Dockerfile itself keeps the pinned official image as its default.
# Concurrent runs (two test files at once) are serialized with a lock, because both rewrite
# build/image/. Progress goes to stderr; stdout carries only the tag.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
BALLAST_CACHE="${BALLAST_CACHE:-$HOME/.cache/ballast}"
BALLAST_NODE_VERSION="${BALLAST_NODE_VERSION:-24.21.0}"
TAG="${BALLAST_IMAGE:-ballast-dataplane:dev}"
LOCAL_BASE="ballast-base-node:$BALLAST_NODE_VERSION"
OFFICIAL_BASE="$(sed -n 's/^ARG BASE_IMAGE=\(.*\)$/\1/p' Dockerfile | head -n1)"
PULL_TIMEOUT="${BALLAST_PULL_TIMEOUT:-60}"

say() { echo "image: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# shellcheck disable=SC1091
. scripts/ensure-node.sh >/dev/null
timeout 15 docker info >/dev/null 2>&1 || {
  say "no Docker engine answers; run scripts/ensure-docker.sh first"
  exit 1
}

choose_base() {
  if [ -n "${BALLAST_BASE_IMAGE:-}" ]; then
    echo "$BALLAST_BASE_IMAGE"
  elif have_image "$LOCAL_BASE"; then
    echo "$LOCAL_BASE"
  elif [ -n "$OFFICIAL_BASE" ] && have_image "$OFFICIAL_BASE"; then
    echo "$OFFICIAL_BASE"
  elif [ -n "$OFFICIAL_BASE" ] && timeout "$PULL_TIMEOUT" docker pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then
    echo "$OFFICIAL_BASE"
  else
    say "cannot pull $OFFICIAL_BASE; making the local base $LOCAL_BASE"
    bash scripts/ensure-docker.sh >/dev/null
    echo "$LOCAL_BASE"
  fi
}

mkdir -p "$BALLAST_CACHE"
exec 9>"$BALLAST_CACHE/image.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 600 9 || {
    say "another image build held $BALLAST_CACHE/image.lock for 10 minutes"
    exit 1
  }
fi

base="$(choose_base)"
previous="$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)"
started=$SECONDS
say "bundling the data plane (npm run bundle)"
npm run --silent bundle >&2
args=(build --quiet --build-arg "BASE_IMAGE=$base" --tag "$TAG" --label "org.opencontainers.image.title=ballast-dataplane")
if rev="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"; then
  args+=(--label "org.opencontainers.image.revision=$rev")
fi
say "docker build (base $base) -> $TAG"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
docker "${args[@]}" "$REPO" >"$log" 2>&1 || {
  cat "$log" >&2
  say "docker build failed"
  exit 1
}
size="$(docker image inspect --format '{{.Size}}' "$TAG")"
# The image this tag named before is now untagged: remove it (refused, harmlessly, while a
# container still runs it), so repeated builds do not pile up.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$TAG")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
say "built $TAG in $((SECONDS - started)) s: $((size / 1000000)) MB (base $base)"
echo "$TAG"
