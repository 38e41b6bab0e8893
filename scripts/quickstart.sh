#!/usr/bin/env bash
# A working balancer configured by `pulumi up`, on this machine, with no cloud account.
#
#   bash scripts/quickstart.sh            start (or reuse) everything, run `pulumi up -s dev`, send traffic
#   bash scripts/quickstart.sh stop       `pulumi destroy -s dev`, then stop what start started
#   bash scripts/quickstart.sh stop --keep-config   stop without destroying (the balancer keeps its state)
#   bash scripts/quickstart.sh status     what is running
#
# start:
#   1. Node (scripts/ensure-node.sh), `npm ci` when node_modules is missing or older than the
#      lockfile, the Pulumi CLI (scripts/ensure-pulumi.sh), `npm run build`.
#   2. Pulumi's state in a local directory: PULUMI_BACKEND_URL=file://<repo>/.ballast/pulumi, and the
#      demo passphrase `ballast-quickstart` for the stack's secrets (it protects nothing).
#   3. Three origins on 127.0.0.1:9101-9103 answering with their name (origin-1..3).
#   4. The data plane, admin API on 127.0.0.1:9180 with a generated token (.ballast/admin-token):
#      a container (`--network host`, image from scripts/image.sh, state on the volume
#      ballast-quickstart-state) when a Docker engine answers, else `node dist/dataplane/main.js`
#      (state in .ballast/state). BALLAST_QUICKSTART_MODE=container|process forces one.
#   5. `pulumi up --yes -s dev` (Pulumi.dev.yaml: listener 8080 -> service web -> the origins, weights
#      50/30/20), with BALLAST_ADMIN_URL / BALLAST_ADMIN_TOKEN in the environment: they win over the
#      stack config, so no committed file is rewritten.
#   6. 30 requests through http://127.0.0.1:8080/, and where they went.
#   7. .ballast/env.sh for `. .ballast/env.sh && pulumi preview -s dev`.
# Everything keeps running in the background: PIDs in .ballast/*.pid, the container id in
# .ballast/dataplane.cid, logs in .ballast/*.log. A second run reuses what is there.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/progress.sh
. scripts/progress.sh
QS="$REPO/.ballast"
STACK=dev
PASSPHRASE=ballast-quickstart
ADMIN_PORT=9180
ADMIN_URL="http://127.0.0.1:$ADMIN_PORT"
LISTENER_URL="http://127.0.0.1:8080/"
ORIGINS=("origin-1:9101" "origin-2:9102" "origin-3:9103")
CONTAINER_NAME=ballast-quickstart
VOLUME=ballast-quickstart-state
REQUESTS=30

say() { echo "quickstart: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# --- processes we started ------------------------------------------------------------------------

# Prints the PID in $1 when that process is alive and its command line contains $2.
live_pid() {
  local pid
  [ -f "$1" ] || return 1
  pid="$(cat "$1")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

stop_pid() { # file marker what
  local pid i
  if pid="$(live_pid "$1" "$2")"; then
    say "stopping $3 (PID $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      [ -d "/proc/$pid" ] || break
      sleep 0.2
    done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

docker_up() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

# Prints the id in .ballast/dataplane.cid when that container still exists.
our_container() {
  local cid
  [ -f "$QS/dataplane.cid" ] || return 1
  cid="$(cat "$QS/dataplane.cid")"
  [ -n "$cid" ] && docker_up && docker container inspect "$cid" >/dev/null 2>&1 || return 1
  echo "$cid"
}

# Waits (bounded) for a URL to answer 200; prints nothing.
wait_http() { # url seconds
  node -e '
    const [url, secs] = process.argv.slice(1);
    const deadline = Date.now() + Number(secs) * 1000;
    (async () => {
      while (Date.now() < deadline) {
        try { const r = await fetch(url, { signal: AbortSignal.timeout(1000) }); if (r.status === 200) process.exit(0); } catch {}
        await new Promise((r) => setTimeout(r, 200));
      }
      process.exit(1);
    })();' "$1" "$2"
}

pulumi_env() {
  export PULUMI_BACKEND_URL="file://$QS/pulumi"
  export PULUMI_CONFIG_PASSPHRASE="$PASSPHRASE"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export BALLAST_ADMIN_URL="$ADMIN_URL"
  unset PULUMI_CONFIG_PASSPHRASE_FILE
  mkdir -p "$QS/pulumi"
}

# --- start -----------------------------------------------------------------------------------------

ORIGIN_JS='
const [, name, port] = process.argv.slice(1);
const server = require("node:http").createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "x-origin": name });
  res.end(name + "\n");
});
server.listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => { server.close(); server.closeAllConnections(); process.exit(0); });'

start_origins() {
  local spec name port pid
  for spec in "${ORIGINS[@]}"; do
    name="${spec%%:*}"
    port="${spec##*:}"
    if pid="$(live_pid "$QS/$name.pid" "ballast-quickstart-origin $name")"; then
      say "$name already runs (PID $pid) on 127.0.0.1:$port"
      continue
    fi
    setsid node -e "$ORIGIN_JS" ballast-quickstart-origin "$name" "$port" >"$QS/$name.log" 2>&1 </dev/null &
    echo $! >"$QS/$name.pid"
    wait_http "http://127.0.0.1:$port/" 10 || die "$name did not answer on 127.0.0.1:$port (port taken?); see $QS/$name.log"
    say "$name answers on 127.0.0.1:$port (PID $(cat "$QS/$name.pid"))"
  done
}

token() {
  if [ ! -s "$QS/admin-token" ]; then
    (umask 077 && node -p 'require("node:crypto").randomBytes(24).toString("hex")' >"$QS/admin-token")
  fi
  cat "$QS/admin-token"
}

start_container() {
  local image cid want have
  image="$(bash scripts/image.sh)"
  want="$(docker image inspect --format '{{.Id}}' "$image")"
  if cid="$(our_container)"; then
    have="$(docker container inspect --format '{{.Image}}' "$cid")"
    if [ "$have" = "$want" ]; then
      [ "$(docker container inspect --format '{{.State.Running}}' "$cid")" = true ] || docker start "$cid" >/dev/null
      say "data plane container ${cid:0:12} already runs $image"
      return 0
    fi
    say "the image changed: re-creating the data plane container (its state is on volume $VOLUME)"
    docker rm --force "$cid" >/dev/null
  fi
  docker volume create "$VOLUME" >/dev/null
  cid="$(docker run --detach --name "$CONTAINER_NAME" --network host \
    --restart unless-stopped \
    --env "BALLAST_ADMIN_ADDR=127.0.0.1:$ADMIN_PORT" \
    --env-file <(printf 'BALLAST_ADMIN_TOKEN=%s\n' "$TOKEN") \
    --env BALLAST_WORKERS=1 \
    --volume "$VOLUME:/var/lib/ballast" \
    --label ballast.quickstart=1 \
    "$image")"
  echo "$cid" >"$QS/dataplane.cid"
  say "data plane container ${cid:0:12} started from $image (--network host)"
}

start_process() {
  local pid
  if pid="$(live_pid "$QS/dataplane.pid" "dist/dataplane/main.js")"; then
    say "data plane process already runs (PID $pid)"
    return 0
  fi
  BALLAST_ADMIN_ADDR="127.0.0.1:$ADMIN_PORT" BALLAST_ADMIN_TOKEN="$TOKEN" BALLAST_STATE_DIR="$QS/state" \
    BALLAST_WORKERS=1 setsid node dist/dataplane/main.js >>"$QS/dataplane.log" 2>&1 </dev/null &
  echo $! >"$QS/dataplane.pid"
  say "data plane process started (PID $(cat "$QS/dataplane.pid"), log $QS/dataplane.log)"
}

start_dataplane() {
  local mode="${BALLAST_QUICKSTART_MODE:-}"
  if [ -z "$mode" ]; then
    if our_container >/dev/null || { ! live_pid "$QS/dataplane.pid" "dist/dataplane/main.js" >/dev/null && docker_up; }; then
      mode=container
    else
      mode=process
    fi
  fi
  case "$mode" in
    container)
      docker_up || die "BALLAST_QUICKSTART_MODE=container but no Docker engine answers (scripts/ensure-docker.sh starts one)"
      start_container
      ;;
    process) start_process ;;
    *) die "BALLAST_QUICKSTART_MODE must be container or process" ;;
  esac
  wait_http "$ADMIN_URL/healthz" 60 || die "the data plane's admin API did not answer on $ADMIN_URL within 60 s (port $ADMIN_PORT taken?); see $(
    [ "$mode" = container ] && echo "docker logs $(cat "$QS/dataplane.cid")" || echo "$QS/dataplane.log"
  )"
  echo "$mode" >"$QS/mode"
}

send_traffic() {
  node -e '
    const [url, n] = [process.argv[1], Number(process.argv[2])];
    (async () => {
      // The listener is bound by the time `pulumi up` returns; health checks take a moment.
      const deadline = Date.now() + 15000;
      for (;;) {
        try { const r = await fetch(url, { signal: AbortSignal.timeout(2000) }); await r.text(); if (r.status === 200) break; } catch {}
        if (Date.now() > deadline) { console.log(`no answer from ${url}`); process.exit(1); }
        await new Promise((r) => setTimeout(r, 250));
      }
      const counts = new Map();
      for (let i = 0; i < n; i++) {
        let key;
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
          const body = (await r.text()).trim();
          key = r.status === 200 ? body : `HTTP ${r.status}`;
        } catch (err) { key = `failed (${err.cause?.code ?? err.message})`; }
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      console.log(`${n} requests to ${url}:`);
      for (const [k, c] of [...counts].sort()) console.log(`  ${k.padEnd(12)} ${String(c).padStart(3)}  ${"#".repeat(c)}`);
      process.exit([...counts.keys()].every((k) => k.startsWith("origin-")) ? 0 : 1);
    })();' "$LISTENER_URL" "$REQUESTS"
}

write_env() {
  local pulumi_dir node_dir
  pulumi_dir="$(dirname "$(command -v pulumi)")"
  node_dir="$(dirname "$(command -v node)")"
  (
    umask 077
    cat >"$QS/env.sh" <<EOF
# Written by scripts/quickstart.sh. In $REPO:  . .ballast/env.sh && pulumi preview -s dev
export PATH="$pulumi_dir:$node_dir:\$PATH"
export PULUMI_BACKEND_URL="file://$QS/pulumi"
export PULUMI_CONFIG_PASSPHRASE="$PASSPHRASE"   # the demo passphrase of Pulumi.dev.yaml
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export BALLAST_ADMIN_URL="$ADMIN_URL"
export BALLAST_ADMIN_TOKEN="$TOKEN"
EOF
  )
}

start() {
  mkdir -p "$QS"
  # shellcheck disable=SC1091
  . scripts/ensure-node.sh
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  # shellcheck disable=SC1091
  . scripts/ensure-pulumi.sh
  say "$(pulumi version) at $(command -v pulumi)"
  say "npm run build"
  npm run --silent build
  pulumi_env

  start_origins
  TOKEN="$(token)"
  start_dataplane
  export BALLAST_ADMIN_TOKEN="$TOKEN"

  pulumi stack select --create "$STACK" --non-interactive >/dev/null 2>&1 ||
    die "cannot select or create the stack $STACK in $PULUMI_BACKEND_URL"
  say "pulumi up --yes -s $STACK"
  # Shown live (each resource as Pulumi steps it), and kept in the log.
  run_live "$QS/pulumi-up.log" timeout 600 pulumi up --yes --skip-preview --stack "$STACK" --non-interactive ||
    die "pulumi up failed (output above; log: $QS/pulumi-up.log)"
  write_env

  local traffic=0
  send_traffic || traffic=$?
  cat <<EOF

The balancer runs in the background ($(cat "$QS/mode"); admin API $ADMIN_URL, listener $LISTENER_URL).
Edit Pulumi.dev.yaml (weights, servers, listeners), then:

  . .ballast/env.sh && pulumi preview -s dev

Stop everything (runs pulumi destroy first):

  bash scripts/quickstart.sh stop
EOF
  [ "$traffic" = 0 ] || die "requests through $LISTENER_URL did not all reach an origin (see above)"
}

# --- stop and status -------------------------------------------------------------------------------

stop() {
  local destroy=1 destroyed=0 cid spec
  [ "${1:-}" = "--keep-config" ] && destroy=0
  mkdir -p "$QS"
  # shellcheck disable=SC1091
  . scripts/ensure-node.sh >/dev/null
  if [ "$destroy" = 1 ] && [ -s "$QS/admin-token" ] && [ -d "$QS/pulumi/.pulumi" ] && wait_http "$ADMIN_URL/healthz" 2; then
    # shellcheck disable=SC1091
    . scripts/ensure-pulumi.sh 2>/dev/null
    pulumi_env
    export BALLAST_ADMIN_TOKEN
    BALLAST_ADMIN_TOKEN="$(cat "$QS/admin-token")"
    say "pulumi destroy --yes -s $STACK"
    if timeout 300 pulumi destroy --yes --skip-preview --stack "$STACK" --non-interactive --suppress-progress >"$QS/pulumi-destroy.log" 2>&1; then
      destroyed=1
    else
      say "pulumi destroy failed (log: $QS/pulumi-destroy.log); stopping anyway, the balancer's state is kept"
    fi
  fi
  if cid="$(our_container)"; then
    say "removing data plane container ${cid:0:12}"
    docker stop --time 15 "$cid" >/dev/null 2>&1 || true
    docker rm --force "$cid" >/dev/null 2>&1 || true
    # Its state volume goes only when the stack was destroyed: otherwise Pulumi's state still
    # describes what the balancer holds, and the next start reuses both.
    if [ "$destroyed" = 1 ]; then docker volume rm "$VOLUME" >/dev/null 2>&1 || true; fi
  fi
  rm -f "$QS/dataplane.cid"
  stop_pid "$QS/dataplane.pid" "dist/dataplane/main.js" "data plane process"
  for spec in "${ORIGINS[@]}"; do
    stop_pid "$QS/${spec%%:*}.pid" "ballast-quickstart-origin ${spec%%:*}" "${spec%%:*}"
  done
  rm -f "$QS/mode"
  say "stopped"
}

status() {
  local pid cid spec
  for spec in "${ORIGINS[@]}"; do
    if pid="$(live_pid "$QS/${spec%%:*}.pid" "ballast-quickstart-origin ${spec%%:*}")"; then
      say "${spec%%:*}: PID $pid, 127.0.0.1:${spec##*:}"
    else say "${spec%%:*}: not running"; fi
  done
  if cid="$(our_container)"; then
    say "data plane container ${cid:0:12}: $(docker container inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$cid")"
  elif pid="$(live_pid "$QS/dataplane.pid" "dist/dataplane/main.js")"; then
    say "data plane process: PID $pid"
  else say "data plane: not running"; fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  status) status ;;
  *)
    echo "usage: bash scripts/quickstart.sh [start|stop [--keep-config]|status]" >&2
    exit 2
    ;;
esac
