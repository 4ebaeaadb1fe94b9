#!/usr/bin/env bash
# demo.sh is the main job: bring the stack up with no Docker, start the
# worker, generate and upload the synthetic demo catalogue, train a model
# through Temporal, and show where to watch the run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/stack.sh up
set -a
# shellcheck source=/dev/null
. .data/stack.env
set +a

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
mkdir -p .data/bin .data/run .data/logs
echo "building worker and starter" >&2
go build -ldflags "-X github.com/prodcat/prodcat/internal/version.commit=$commit" -o .data/bin/ ./worker ./starter

alive() { [ -f ".data/run/$1.pid" ] && kill -0 "$(cat ".data/run/$1.pid")" 2>/dev/null; }
if alive worker; then
	# Restart so the worker runs the code just built.
	kill "$(cat .data/run/worker.pid)" && while alive worker; do sleep 0.2; done
fi
setsid .data/bin/worker >>.data/logs/worker.log 2>&1 </dev/null &
echo $! >.data/run/worker.pid
echo "worker: started (pid $(cat .data/run/worker.pid), log .data/logs/worker.log)" >&2

.data/bin/starter demo-data --out .data/demo >/dev/null
.data/bin/starter train --x .data/demo/X_demo.csv --y .data/demo/Y_demo.csv --wait

echo
echo "Watch the run in the Temporal UI: ${TEMPORAL_UI_URL:-http://127.0.0.1:8233}"
echo "Stop everything with: go tool task down"
