# Progress on long work, for the setup scripts (sourced by scripts/ensure-pulumi.sh and
# scripts/quickstart.sh). Bash; defines functions only.

# with_heartbeat PREFIX WHAT CMD...: runs CMD; while it runs, prints "PREFIX: still WHAT (N s so
# far)" to stderr every BALLAST_PROGRESS_SECONDS (default 20, so a person watching never waits 30 s
# without a word). Returns CMD's status.
with_heartbeat() {
  local prefix="$1" what="$2" every="${BALLAST_PROGRESS_SECONDS:-20}" flags="$-" start beat rc
  shift 2
  start=$(date +%s)
  set +m # sourced into an interactive shell: no job notices for the ticker
  # The ticker's own sleep is ended with it, so no stray process holds the caller's pipes open.
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$every" &
      nap=$!
      wait "$nap"
      echo "$prefix: still $what ($(($(date +%s) - start)) s so far)" >&2
    done
  ) >/dev/null &
  beat=$!
  "$@"
  rc=$?
  kill "$beat" 2>/dev/null
  wait "$beat" 2>/dev/null
  case "$flags" in *m*) set -m ;; esac
  return "$rc"
}

# run_live LOG CMD...: runs CMD with its output shown as it comes (stderr, indented two spaces) and
# kept in LOG. Returns CMD's status.
run_live() {
  local log="$1"
  shift
  "$@" 2>&1 | tee "$log" | sed -u 's/^/  /' >&2
  return "${PIPESTATUS[0]}"
}
