#!/usr/bin/env bash
# Makes `promtool` (Prometheus' checker, Debian's `prometheus` package) available: the metrics tests
# run `promtool check metrics` on a real scrape and `promtool check rules` on docs/prometheus-alerts.yml.
# When promtool is on PATH nothing is done; otherwise apt-get installs `prometheus` (as root, or
# with sudo). Prints the promtool path.
set -euo pipefail

say() { echo "ensure-promtool: $*" >&2; }

if ! command -v promtool >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  say "promtool missing: installing Debian's prometheus package"
  $SUDO apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null
    $SUDO apt-get install -y --no-install-recommends prometheus >/dev/null
  }
fi
command -v promtool
