#!/usr/bin/env bash
# demo.sh is the main job: bring the stack up with no Docker, start the
# worker, generate and upload the synthetic demo catalogue, train a model
# through Temporal, then start the API with generated credentials and serve
# a prediction from the model it just trained.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/stack.sh up
set -a
# shellcheck source=/dev/null
. .data/stack.env
set +a

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# A modified tree is not that commit: record it as such, as go build's own
# stamp would (untracked files count; a failing git status counts as dirty).
if [ "$commit" != unknown ]; then
	if ! status=$(git status --porcelain 2>/dev/null) || [ -n "$status" ]; then
		commit="$commit-dirty"
	fi
fi
mkdir -p .data/bin .data/run .data/logs
echo "building worker, starter and api" >&2
go build -ldflags "-X github.com/prodcat/prodcat/internal/version.commit=$commit" -o .data/bin/ ./worker ./starter ./api

# restart name: (re)start a service from the binaries just built.
restart() { scripts/stack.sh start "$1" ".data/bin/$1"; }
restart worker

.data/bin/starter demo-data --out .data/demo >/dev/null
# The demo catalogue becomes the "demo" feed; a schedule could name it too.
.data/bin/starter feed publish demo --x .data/demo/X_demo.csv --y .data/demo/Y_demo.csv --note "demo catalogue" >/dev/null
.data/bin/starter train --feed demo --wait

# API credentials: generated once, kept in .data (mode 600), printed below.
creds=.data/api-credentials
if [ ! -s "$creds" ] || [ ! -s .data/api-users ]; then
	password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	hash=$(printf '%s\n' "$password" | .data/bin/api -hash-password)
	umask 077
	printf 'admin:admin:%s\n' "$hash" >.data/api-users
	printf 'admin:%s\n' "$password" >"$creds"
fi
export PRODCAT_API_USERS_FILE="$root/.data/api-users"
restart api
addr=${PRODCAT_API_ADDR:-127.0.0.1:8080}
for _ in $(seq 120); do
	curl -fs -o /dev/null "http://$addr/readyz" && break
	sleep 0.25
done
curl -fs -o /dev/null "http://$addr/readyz" || { echo "api did not become ready; see .data/logs/api.log" >&2; exit 1; }

echo
echo "Prediction served by the API (POST http://$addr/v1/predict):"
curl -fsS -u "$(cat "$creds")" -H 'Content-Type: application/json' "http://$addr/v1/predict" \
	-d '{"designation": "Tondeuse à gazon sans fil 18V - Acme", "description": "<p>Tondeuse <b>légère</b> pour petit jardin</p>"}'
echo
echo
echo "API:         http://$addr  (demo page at /, credentials $(cat "$creds"), kept in $creds)"
echo "Temporal UI: ${TEMPORAL_UI_URL:-http://127.0.0.1:8233}"
echo "Stop everything with: go tool task down"
