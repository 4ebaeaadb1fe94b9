#!/usr/bin/env bash
# bench-api.sh measures prodcat's API against the seeds' FastAPI anchor
# (../shared/bench/serve: FastAPI + uvicorn, 2 workers, Basic auth, TF-IDF +
# LinearSVC fitted on the same rakuten split) in one run, with the same wrk
# command, and prints both and the ratio.
#
# Our API serves the production version of the registered model
# $BENCH_MODEL (default rakuten-bench), trained by the pipeline on the same
# rakuten split as the anchor; when it has none, the script trains it
# first (starting a worker for the run), so the served model is never the
# demo's. The anchor's post.lua posts to /predict as admin:secret; our
# route is /v1/predict and our users are bcrypt-hashed, so
# scripts/bench-api.lua sends the same body there with credentials made for
# this run.
#
# Two placements, each applied the same way to both servers:
#   split   the server on CPU 0, wrk on CPU 1 (taskset): the load generator
#           never starves the server or the other way round; the headline.
#   shared  no pinning: server and wrk compete for every core, so latency
#           also measures wrk waiting for CPU.
# The run fails (exit 1) when the split placement misses a target: at
# least 50x the anchor's requests/s, p99 under 10 ms, no errors.
#
# Environment: BENCH_DURATION (default 15s), BENCH_PLACEMENTS (default
# "split shared"), BENCH_MODEL (rakuten-bench), PRODCAT_ANCHOR_PORT (8601),
# PRODCAT_BENCH_PORT (8602).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=$(cd "$root/.." && pwd)/shared
serve="$shared/bench/serve"
duration="${BENCH_DURATION:-15s}"
placements="${BENCH_PLACEMENTS:-split shared}"
bench_model="${BENCH_MODEL:-rakuten-bench}"
splits="$shared/bench/splits/rakuten"
anchor_port="${PRODCAT_ANCHOR_PORT:-8601}"
our_port="${PRODCAT_BENCH_PORT:-8602}"
min_ratio=50
max_p99_ms=10

say() { printf '%s\n' "$*" >&2; }
die() { say "bench-api: $*"; exit 1; }

[ -f "$serve/fastapi_anchor.py" ] || die "$serve/fastapi_anchor.py not found"

# Tools: wrk, and Debian's python3 with FastAPI, uvicorn and scikit-learn.
if ! command -v wrk >/dev/null || ! /usr/bin/python3 -c 'import fastapi, uvicorn, sklearn' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "bench-api: installing wrk and the anchor's Python packages"
		{ apt-get update -q && apt-get install -y python3-fastapi python3-uvicorn python3-sklearn wrk; } >/dev/null
	else
		die "need wrk and python3-fastapi python3-uvicorn python3-sklearn: apt-get install -y python3-fastapi python3-uvicorn python3-sklearn wrk"
	fi
fi
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then
	say "bench-api: fewer than 2 CPUs or no taskset: measuring the shared placement only"
	placements=shared
fi

scripts/stack.sh status >/dev/null 2>&1 || die "the local stack is not up: go tool task up"
set -a
# shellcheck source=/dev/null
. .data/stack.env
set +a

work=$(mktemp -d "${TMPDIR:-/tmp}/prodcat-bench-api.XXXXXX")
pids=()
stop_servers() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
trap 'stop_servers; rm -rf "$work"' EXIT

for port in "$anchor_port" "$our_port"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "port $port is in use"
	fi
done

say "bench-api: building the API, the starter and the worker"
go build -o "$work/prodcat-api" ./api
go build -o "$work/starter" ./starter
go build -o "$work/worker" ./worker

# The model: the pipeline's, trained on the anchor's rakuten split.
if ! "$work/starter" models list --json --model "$bench_model" 2>/dev/null | grep -q '"production"'; then
	say "bench-api: $bench_model has no production version: training it on $splits with a worker of this run"
	"$work/worker" >"$work/worker.log" 2>&1 &
	pids+=($!)
	"$work/starter" train --model "$bench_model" --x "$splits/X_train.csv" --y "$splits/Y_train.csv" --wait >&2 ||
		{ tail -20 "$work/worker.log" >&2; die "training $bench_model failed"; }
	stop_servers
fi
"$work/starter" models list --model "$bench_model" >&2
# A user made for this run: its password never leaves the run.
password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
hash=$(printf '%s\n' "$password" | "$work/prodcat-api" -hash-password)
export PRODCAT_BENCH_AUTH
PRODCAT_BENCH_AUTH=$(printf 'bench:%s' "$password" | base64 | tr -d '\n')

# pin runs a command on the given CPU, or as is when cpu is empty.
pin() {
	local cpu=$1
	shift
	if [ -n "$cpu" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

# spawn starts a server in the background, pinned like pin, and records its
# pid (the server's own: taskset execs it) for stop_servers.
spawn() {
	local cpu=$1 log=$2
	shift 2
	if [ -n "$cpu" ]; then
		taskset -c "$cpu" "$@" >"$log" 2>&1 &
	else
		"$@" >"$log" 2>&1 &
	fi
	pids+=($!)
}

# ready polls a URL with curl arguments until it answers 200, for at most
# $1 seconds.
ready() {
	local limit=$1
	shift
	for _ in $(seq "$((limit * 5))"); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" 2>/dev/null)" = 200 ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

start_servers() {
	local cpu=$1
	spawn "$cpu" "$work/anchor.log" /usr/bin/python3 -m uvicorn fastapi_anchor:app --app-dir "$serve" \
		--port "$anchor_port" --workers 2 --log-level warning
	spawn "$cpu" "$work/api.log" env PRODCAT_API_ADDR="127.0.0.1:$our_port" PRODCAT_API_USERS="bench:predict:$hash" \
		PRODCAT_API_USERS_FILE= PRODCAT_DEV_MODE=false PRODCAT_MODEL_NAME="$bench_model" "$work/prodcat-api"
	# The anchor fits its model at start-up.
	if ! ready 180 -u admin:secret -H 'Content-Type: application/json' -d '{"designation": "x"}' \
		"http://127.0.0.1:$anchor_port/predict"; then
		tail -5 "$work/anchor.log" >&2
		die "the FastAPI anchor did not answer within 180s"
	fi
	if ! ready 60 "http://127.0.0.1:$our_port/readyz"; then
		say "bench-api: prodcat's API is not ready: $(curl -s "http://127.0.0.1:$our_port/readyz")"
		tail -5 "$work/api.log" >&2
		die "prodcat's API did not become ready within 60s"
	fi
}

# measure runs wrk and prints "<requests/s> <p50 ms> <p99 ms> <errors>".
measure() {
	local cpu=$1 name=$2 script=$3 url=$4 out="$work/$5.txt"
	pin "$cpu" wrk -t2 -c32 -d3s -s "$script" "$url" >/dev/null # warm-up
	pin "$cpu" wrk -t2 -c32 -d"$duration" --latency -s "$script" "$url" >"$out"
	{
		echo "== $name: wrk -t2 -c32 -d$duration --latency -s $(basename "$script") $url"
		cat "$out"
	} >&2
	awk '
		function ms(v) {
			if (v ~ /us$/) return v / 1000
			if (v ~ /ms$/) return v + 0
			if (v ~ /s$/) return v * 1000
			return v
		}
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		/^Requests\/sec:/ { rps = $2 }
		/Non-2xx or 3xx responses:/ { errors += $NF }
		/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) errors += $i }
		END { printf "%s %.2f %.2f %d\n", rps, p50, p99, errors }
	' "$out"
}

say "bench-api: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
summary=()
status=0
for placement in $placements; do
	server_cpu="" wrk_cpu=""
	if [ "$placement" = split ]; then server_cpu=0 wrk_cpu=1; fi
	start_servers "$server_cpu"
	read -r a_rps a_p50 a_p99 a_err < <(measure "$wrk_cpu" "FastAPI anchor ($placement)" "$serve/post.lua" \
		"http://127.0.0.1:$anchor_port/predict" "anchor-$placement")
	read -r o_rps o_p50 o_p99 o_err < <(measure "$wrk_cpu" "prodcat API ($placement)" "$root/scripts/bench-api.lua" \
		"http://127.0.0.1:$our_port/v1/predict" "prodcat-$placement")
	stop_servers
	ratio=$(awk -v o="$o_rps" -v a="$a_rps" 'BEGIN { printf "%.1f", o / a }')
	verdict=$(awk -v r="$ratio" -v p="$o_p99" -v e="$o_err" -v mr="$min_ratio" -v mp="$max_p99_ms" \
		'BEGIN { print (r >= mr && p < mp && e == 0) ? "PASS" : "FAIL" }')
	summary+=("$(printf '%-7s %-15s %10s %9s %9s %7s' "$placement" "FastAPI anchor" "$a_rps" "$a_p50" "$a_p99" "$a_err")")
	summary+=("$(printf '%-7s %-15s %10s %9s %9s %7s   %sx the anchor: %s' "$placement" "prodcat API" "$o_rps" "$o_p50" "$o_p99" "$o_err" "$ratio" "$verdict")")
	if [ "$placement" = split ] && [ "$verdict" != PASS ]; then status=1; fi
done

echo
echo "Serving benchmark: wrk -t2 -c32 -d$duration --latency, same JSON body, Basic auth, loopback"
printf '%-7s %-15s %10s %9s %9s %7s\n' placement server "requests/s" "p50 ms" "p99 ms" errors
printf '%s\n' "${summary[@]}"
echo "targets: >= ${min_ratio}x the anchor's requests/s, p99 < ${max_p99_ms} ms, no errors (checked on the split placement)"
exit "$status"
