#!/usr/bin/env bash
# Makes sure a Chromium the status page's browser test can drive is installed (Debian's
# `chromium` package, /usr/bin/chromium), installing it with apt-get when it is missing.
# BALLAST_CHROMIUM names another binary instead. In CI a Chromium that cannot be installed fails
# the run (exit 1); elsewhere the browser test then skips with the reason.
set -euo pipefail

bin="${BALLAST_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
  echo "ensure-chromium: $("$bin" --version 2>/dev/null | tail -1) at $bin"
  exit 0
fi
if [ -n "${BALLAST_CHROMIUM:-}" ]; then
  echo "ensure-chromium: BALLAST_CHROMIUM=$bin is not an executable" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "ensure-chromium: not root and no sudo: install Debian's chromium package by hand" >&2
    exit 1
  fi
fi
echo "ensure-chromium: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if [ ! -x "$bin" ]; then
  echo "ensure-chromium: apt-get installed chromium but $bin is missing" >&2
  exit 1
fi
echo "ensure-chromium: $("$bin" --version 2>/dev/null | tail -1) at $bin"
