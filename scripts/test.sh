#!/usr/bin/env bash
# test.sh is the project's test command: it brings up the local stack
# (building what is missing), runs go vet and every unit and integration
# test against the real services, and stops the services it started even
# when the tests fail. Extra arguments go to `go test`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

shared=$(cd "$root/.." && pwd)/shared
export PRODCAT_DATA_DIR="${PRODCAT_DATA_DIR:-$shared/data}"
export PRODCAT_SPLITS_DIR="${PRODCAT_SPLITS_DIR:-$shared/bench/splits}"
[ -d "$PRODCAT_SPLITS_DIR" ] || { echo "test: $PRODCAT_SPLITS_DIR not found; set PRODCAT_SPLITS_DIR" >&2; exit 1; }

# The browser test needs Chromium and the load test wrk, from Debian's
# packages; install them when missing rather than let those tests skip.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "test: installing ${missing[*]} from Debian's packages" >&2
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >&2 ||
			echo "test: could not install ${missing[*]}; the tests that need them will say so and skip" >&2
	else
		echo "test: ${missing[*]} missing and cannot be installed here (not root); the tests that need them will skip" >&2
	fi
fi

# Stop afterwards exactly the services this run started, even when the
# tests fail; what was running before keeps running.
before=$(scripts/stack.sh running)
stop_started() {
	local started=() name
	for name in temporal minio postgres; do
		grep -qx "$name" <<<"$before" || started+=("$name")
	done
	[ ${#started[@]} -eq 0 ] || scripts/stack.sh down "${started[@]}"
}
trap stop_started EXIT
scripts/stack.sh up
set -a
# shellcheck source=/dev/null
. .data/stack.env
set +a
export PRODCAT_INTEGRATION=1

echo "== go vet" >&2
go vet ./...
echo "== go test" >&2
go test -count=1 -timeout 40m "${@:-./...}"
