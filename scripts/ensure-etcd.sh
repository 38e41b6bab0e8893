#!/usr/bin/env bash
# Makes sure an etcd server binary is available for the replica tests (test/helpers/etcd-cluster.ts
# starts a three-member cluster on 127.0.0.1 from it). Debian's `etcd-server` package (etcd 3.4 on
# bookworm): a signed binary in minutes, where `go build` of go.etcd.io/etcd/server/v3 would take
# the shared machine's two cores for far longer. BALLAST_ETCD_BIN overrides the binary.
# Outside CI a machine without apt just reports it; in CI (CI=true) a missing etcd fails.
set -euo pipefail
bin="${BALLAST_ETCD_BIN:-/usr/bin/etcd}"
if [ -x "$bin" ]; then
  echo "etcd: $("$bin" --version | head -1) at $bin"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "etcd: installing Debian's etcd-server"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  # apt may be busy with another install (the machine's setup): wait for its lock, bounded.
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq etcd-server >/dev/null
  # The package starts a system etcd on 2379; the tests start their own on other ports.
  (command -v systemctl >/dev/null 2>&1 && $sudo_cmd systemctl disable --now etcd >/dev/null 2>&1) || true
fi
if [ -x "$bin" ]; then
  echo "etcd: $("$bin" --version | head -1) at $bin"
  exit 0
fi
echo "etcd: no etcd server at $bin and it could not be installed (apt-get install etcd-server)" >&2
if [ "${CI:-}" = "true" ]; then exit 1; fi
exit 0
