#!/usr/bin/env bash
# Makes a Docker engine reachable and the data plane's local base image present.
#
#   scripts/ensure-docker.sh          ensure the engine + image; prints the image tag
#   scripts/ensure-docker.sh stop     stop the dockerd this script started (by its PID file)
#   scripts/ensure-docker.sh status   say whether the engine answers and who started it
#
# 1. When `docker info` answers, that engine is used and nothing is started.
# 2. Otherwise `dockerd` is installed when missing (apt-get update once, then
#    apt-get install -y docker.io), started in the background with its log in
#    $BALLAST_CACHE/docker/dockerd.log and its PID in $BALLAST_CACHE/docker/dockerd.pid,
#    and awaited (at most $BALLAST_DOCKER_WAIT seconds, default 60).
#    dockerd is started with no default bridge (--bridge=none, no iptables): containers use
#    `--network host` and talk over 127.0.0.1 only. Override with BALLAST_DOCKERD_ARGS.
# 3. The image ballast-base-node:$BALLAST_NODE_VERSION is made locally when missing (no
#    registry is reachable): a rootfs holding only the pinned node binary, the shared
#    libraries ldd lists for it, /etc/passwd with user `node` (uid 1000), /home/node and /tmp,
#    imported with `docker import`. It runs as `node` by default.
# A second run does nothing but `docker info` and `docker image inspect`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BALLAST_CACHE="${BALLAST_CACHE:-$HOME/.cache/ballast}"
BALLAST_NODE_VERSION="${BALLAST_NODE_VERSION:-24.21.0}"
STATE="$BALLAST_CACHE/docker"
PIDFILE="$STATE/dockerd.pid"
LOGFILE="$STATE/dockerd.log"
WAIT="${BALLAST_DOCKER_WAIT:-60}"
IMAGE="ballast-base-node:$BALLAST_NODE_VERSION"
DOCKERD_ARGS="${BALLAST_DOCKERD_ARGS:---bridge=none --iptables=false --ip6tables=false}"

say() { echo "ensure-docker: $*" >&2; }

engine_up() { timeout 15 docker info >/dev/null 2>&1; }

our_dockerd_pid() {
  # Prints the PID from the PID file when that process is still a dockerd.
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

stop_dockerd() {
  local pid i
  if ! pid="$(our_dockerd_pid)"; then
    say "no dockerd started by this script is running ($PIDFILE)"
    rm -f "$PIDFILE"
    return 0
  fi
  say "stopping dockerd (PID $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 30); do
    [ -d "/proc/$pid" ] || break
    sleep 1
  done
  if [ -d "/proc/$pid" ]; then
    say "dockerd $pid did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

install_dockerd() {
  command -v dockerd >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || { say "dockerd is missing and apt-get is not available"; return 1; }
  say "installing docker.io (apt-get update + install)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  command -v dockerd >/dev/null 2>&1 || { say "docker.io installed but dockerd is still missing"; return 1; }
}

start_dockerd() {
  local pid launcher=""
  mkdir -p "$STATE"
  if pid="$(our_dockerd_pid)"; then
    say "dockerd $pid (from $PIDFILE) is running but not answering yet; waiting for it"
  else
    install_dockerd
    [ "$(id -u)" = 0 ] || { say "starting dockerd needs root"; return 1; }
    rm -f "$PIDFILE"
    say "starting dockerd (log: $LOGFILE)"
    # setsid: dockerd must outlive this script and the shell or test job that ran it.
    # dockerd writes its own PID to $PIDFILE (--pidfile), whatever setsid did with the fork.
    # shellcheck disable=SC2086
    setsid dockerd --pidfile="$PIDFILE" $DOCKERD_ARGS >>"$LOGFILE" 2>&1 </dev/null &
    launcher=$!
  fi
  local deadline=$((SECONDS + WAIT)) started=$SECONDS
  while [ "$SECONDS" -lt "$deadline" ]; do
    if engine_up && pid="$(our_dockerd_pid)"; then
      say "dockerd $pid answers after $((SECONDS - started)) s; PID file: $PIDFILE"
      return 0
    fi
    if ! our_dockerd_pid >/dev/null && { [ -z "$launcher" ] || ! kill -0 "$launcher" 2>/dev/null; }; then
      say "dockerd is not running; last lines of $LOGFILE:"
      tail -n 20 "$LOGFILE" >&2 || true
      return 1
    fi
    sleep 1
  done
  say "dockerd did not answer within $WAIT s; see $LOGFILE"
  return 1
}

ensure_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image $IMAGE present"
    return 0
  fi
  local node tmp root lib
  # The image carries exactly the pinned node, whatever node is first on PATH.
  # shellcheck disable=SC1091
  BALLAST_FORCE_PINNED_NODE=1 BALLAST_NODE_VERSION="$BALLAST_NODE_VERSION" . "$REPO/scripts/ensure-node.sh" >/dev/null
  node="$BALLAST_CACHE/node-$BALLAST_NODE_VERSION/bin/node"
  [ -x "$node" ] || { say "pinned node not found at $node"; return 1; }
  [ "$("$node" --version)" = "v$BALLAST_NODE_VERSION" ] || { say "$node is not v$BALLAST_NODE_VERSION"; return 1; }

  say "building $IMAGE from $node"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  root="$tmp/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/etc" "$root/home/node" "$root/tmp" "$root/app"
  cp "$node" "$root/usr/local/bin/node"
  # Shared libraries, at the paths the dynamic loader will look for them (incl. /lib64/ld-linux*).
  for lib in $(ldd "$node" | awk '/=>/ { if ($3 ~ /^\//) print $3; next } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
node:x:1000:1000:node:/home/node:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
  echo "hosts: files dns" >"$root/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
  chmod 1777 "$root/tmp"
  chown 1000:1000 "$root/home/node" "$root/app"
  tar -C "$root" --numeric-owner -cf - . |
    docker import \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      --change "ENV NODE_VERSION=$BALLAST_NODE_VERSION" \
      --change 'USER node' \
      --change 'WORKDIR /app' \
      --change 'CMD ["node"]' \
      --message "ballast base: node $BALLAST_NODE_VERSION and its shared libraries" \
      - "$IMAGE" >/dev/null
  # A smoke check that the binary really runs inside it.
  local got
  got="$(docker run --rm --network none "$IMAGE" node -p 'process.version + " " + process.getuid()')"
  [ "$got" = "v$BALLAST_NODE_VERSION 1000" ] || { say "image check failed: got '$got'"; docker image rm "$IMAGE" >/dev/null 2>&1 || true; return 1; }
  say "built $IMAGE ($got)"
}

case "${1:-ensure}" in
  stop)
    stop_dockerd
    ;;
  status)
    if engine_up; then say "engine answers"; else say "engine does not answer"; fi
    if pid="$(our_dockerd_pid)"; then say "dockerd started by this script: PID $pid ($PIDFILE)"; fi
    ;;
  ensure)
    command -v docker >/dev/null 2>&1 || install_dockerd
    if engine_up; then
      say "using the Docker engine that answers at ${DOCKER_HOST:-the default socket}"
    else
      start_dockerd
    fi
    ensure_image
    echo "$IMAGE"
    ;;
  *)
    echo "usage: $0 [ensure|stop|status]" >&2
    exit 2
    ;;
esac
