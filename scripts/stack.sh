#!/usr/bin/env bash
# stack.sh brings prodcat's local stack up and down without Docker:
# the Temporal dev server (with its UI), MinIO and PostgreSQL.
#
#   scripts/stack.sh up       start what is not running (idempotent)
#   scripts/stack.sh down [service...]
#                             stop exactly the processes `up` started, by pid
#   scripts/stack.sh start NAME COMMAND...
#                             run COMMAND as service NAME (the worker, the API)
#   scripts/stack.sh running  list the services of ours that are running
#   scripts/stack.sh status   show what answers
#   scripts/stack.sh logs [service]
#
# State lives under .data/ in the repository; built tools are cached under
# $PRODCAT_TOOLS_DIR (default ~/.cache/prodcat/tools), keyed by version.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$root/.data"
run="$data/run"
logs="$data/logs"
envfile="$data/stack.env"
tools="${PRODCAT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prodcat/tools}"

temporal_version=v1.5.1
minio_version=v0.0.0-20260212201848-7aac2a2c5b7c

# Addresses and credentials a previous `up` recorded stand unless the
# environment gives others, so `status`, `down` and the tasks find the
# stack where it was started. DATABASE_URL is left to up_postgres.
if [ -f "$envfile" ]; then
	while IFS= read -r line || [ -n "$line" ]; do
		key=${line%%=*} value=${line#*=}
		value=${value#\'} value=${value%\'} # write_env quotes values
		case $key in
		TEMPORAL_ADDRESS | TEMPORAL_UI_URL | S3_* | PRODCAT_API_ADDR) [ -n "${!key+set}" ] || export "$key=$value" ;;
		esac
	done <"$envfile"
fi

temporal_addr="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
ui_url="${TEMPORAL_UI_URL:-http://127.0.0.1:8233}"
temporal_ui_port=${ui_url##*:}
temporal_ui_port=${temporal_ui_port%%/*}
s3_endpoint="${S3_ENDPOINT:-127.0.0.1:9000}"
s3_access="${S3_ACCESS_KEY:-prodcat}"
s3_secret="${S3_SECRET_KEY:-prodcat-dev-secret}"
s3_bucket="${S3_BUCKET:-prodcat}"
s3_region="${S3_REGION:-us-east-1}"
api_addr="${PRODCAT_API_ADDR:-127.0.0.1:8080}" # the demo's API
pg_port_default=55432

# The search attributes the pipeline sets on its workflows.
search_attributes=(DatasetDigest=Keyword ModelVersion=Int WeightedF1=Double Promoted=Bool ModelName=Keyword)

say() { printf '%s\n' "$*" >&2; }
die() { say "stack: $*"; exit 1; }

# port_open host:port → 0 when something accepts TCP connections there.
port_open() {
	local host=${1%:*} port=${1##*:}
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# A pid file holds "pid start-time": a pid alone may belong to another
# process after a reboot or a container restart, and must not be trusted,
# let alone signalled.
proc_start() { # proc_start pid: the process's start time in clock ticks since boot
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) } # the command name may hold spaces; fields follow its ')'
	set -- $stat
	echo "${20}"
}

write_pid() { # write_pid name pid
	printf '%s %s\n' "$2" "$(proc_start "$2" || echo 0)" >"$run/$1.pid"
}

pid_of() { # pid_of name: prints the recorded pid if that process is still ours
	local pid start
	[ -f "$run/$1.pid" ] || return 1
	read -r pid start <"$run/$1.pid" || true
	[ -n "$pid" ] || return 1
	if [ -n "${start:-}" ]; then
		[ "$(proc_start "$pid")" = "$start" ] || return 1
	else
		kill -0 "$pid" 2>/dev/null || return 1 # a pid file from before start times
	fi
	echo "$pid"
}

alive() { pid_of "$1" >/dev/null; }

# A service records the settings it was started with; `up` refuses to
# call one started with others running, since the tasks would then look
# for it where it is not. Secrets are recorded as a digest.
started_with() { printf '%s\n' "$2" >"$run/$1.settings"; } # started_with name settings
check_settings() { # check_settings name settings
	local was
	was=$(cat "$run/$1.settings" 2>/dev/null) || return 0 # started before settings were recorded
	[[ $was != *"credentials sha256:"* ]] || return 0       # recorded by an older stack.sh, unsalted
	[ "$was" = "$2" ] || die "$1: already running (pid $(pid_of "$1")) with $was, not $2; stop it first (go tool task down) to start it so, or leave the settings as they were"
}

wait_for() { # wait_for what seconds command...
	local what=$1 secs=$2
	shift 2
	local i
	for ((i = 0; i < secs * 4; i++)); do
		"$@" && return 0
		sleep 0.25
	done
	die "$what did not come up within ${secs}s; see $logs"
}

# tool name module version binary: prints the path of a cached build, building it once.
tool() {
	local name=$1 module=$2 version=$3 bin=$4
	local dir="$tools/$name-$version"
	if [ ! -x "$dir/$bin" ]; then
		command -v go >/dev/null || die "go is needed to build $name"
		say "building $name $version from source into $dir (cold build: about $5 on 2 cores; cached afterwards)"
		local start=$SECONDS
		mkdir -p "$dir.tmp"
		GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false go install "$module@$version" >&2 || die "building $name failed"
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
		say "built $name in $((SECONDS - start))s"
	fi
	printf '%s\n' "$dir/$bin"
}

temporal_bin() { tool temporal github.com/temporalio/cli/cmd/temporal "$temporal_version" temporal "5 minutes"; }
minio_bin() { tool minio github.com/minio/minio "$minio_version" minio "5 minutes"; }

spawn() { # spawn name command... : start a daemon in its own session, remember its pid
	local name=$1
	shift
	# Not holding up's lock (fd 9), which would outlive up with the daemon.
	setsid "$@" >>"$logs/$name.log" 2>&1 </dev/null 9>&- &
	write_pid "$name" $!
}

up_temporal() {
	local settings="TEMPORAL_ADDRESS=$temporal_addr TEMPORAL_UI_URL port $temporal_ui_port"
	if alive temporal; then
		check_settings temporal "$settings"
		say "temporal: already running (pid $(pid_of temporal))"
		return
	fi
	port_open "$temporal_addr" && die "temporal: $temporal_addr is taken by a process we did not start; stop it or set TEMPORAL_ADDRESS"
	local bin args=()
	bin=$(temporal_bin)
	mkdir -p "$data/temporal"
	for sa in "${search_attributes[@]}"; do args+=(--search-attribute "$sa"); done
	spawn temporal "$bin" server start-dev \
		--ip "${temporal_addr%:*}" --port "${temporal_addr##*:}" --ui-port "$temporal_ui_port" \
		--db-filename "$data/temporal/temporal.db" --log-level warn "${args[@]}"
	started_with temporal "$settings"
	wait_for temporal 60 "$bin" operator cluster health --address "$temporal_addr" >/dev/null 2>&1
	wait_for "temporal namespace" 60 "$bin" operator namespace describe --address "$temporal_addr" -n default >/dev/null 2>&1
	say "temporal: up on $temporal_addr, UI http://127.0.0.1:$temporal_ui_port (pid $(pid_of temporal))"
}

up_minio() {
	local settings
	# Salted, so the digest does not give a weak secret away.
	[ -s "$run/settings.salt" ] || (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$run/settings.salt")
	settings="S3_ENDPOINT=$s3_endpoint credentials digest $(printf '%s:%s:%s' "$(cat "$run/settings.salt")" "$s3_access" "$s3_secret" | sha256sum | cut -c1-12)"
	if alive minio; then
		check_settings minio "$settings"
		say "minio: already running (pid $(pid_of minio))"
	else
		port_open "$s3_endpoint" && die "minio: $s3_endpoint is taken by a process we did not start; stop it or set S3_ENDPOINT"
		local bin
		bin=$(minio_bin)
		mkdir -p "$data/minio"
		MINIO_ROOT_USER="$s3_access" MINIO_ROOT_PASSWORD="$s3_secret" MINIO_BROWSER=off \
			spawn minio "$bin" server "$data/minio" --address "$s3_endpoint" --quiet
		started_with minio "$settings"
		wait_for minio 60 curl -fs -o /dev/null "http://$s3_endpoint/minio/health/ready"
		say "minio: up on $s3_endpoint (pid $(pid_of minio))"
	fi
	# Create the bucket; 409 means it is already there.
	local code
	code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$s3_region:s3" \
		--user "$s3_access:$s3_secret" "http://$s3_endpoint/$s3_bucket") || die "minio: cannot reach $s3_endpoint"
	case $code in
	200 | 409) ;;
	*) die "minio: creating bucket $s3_bucket answered HTTP $code" ;;
	esac
}

pg_bindir() {
	local d
	if command -v pg_config >/dev/null && d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "postgresql: installing Debian's postgresql package"
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >&2 || die "apt-get install postgresql failed"
		for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
	fi
	die "postgresql: no initdb found; install PostgreSQL or set DATABASE_URL"
}

# as_pg runs a PostgreSQL tool as the postgres user when we are root, from /
# so that it need not reach the current directory.
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

free_port() {
	local p
	for ((p = pg_port_default; p < pg_port_default + 100; p++)); do
		port_open "127.0.0.1:$p" || { echo "$p"; return; }
	done
	die "postgresql: no free port in $pg_port_default-$((pg_port_default + 99))"
}

# pg_port: the port the cluster had last, so that a worker or an API started
# before a restart of PostgreSQL finds it again; for a new cluster one
# derived from the clone's path, so that two clones seldom pick each
# other's; the first free one otherwise.
pg_port() {
	local last own
	if [ -n "${PRODCAT_PG_PORT:-}" ]; then
		[[ $PRODCAT_PG_PORT =~ ^[0-9]+$ ]] && [ "$PRODCAT_PG_PORT" -ge 1 ] && [ "$PRODCAT_PG_PORT" -le 65535 ] ||
			die "postgresql: PRODCAT_PG_PORT $PRODCAT_PG_PORT: want a port number"
		port_open "127.0.0.1:$PRODCAT_PG_PORT" && die "postgresql: PRODCAT_PG_PORT $PRODCAT_PG_PORT is taken; choose another"
		echo "$PRODCAT_PG_PORT"
		return
	fi
	last=$(cat "$data/postgres.lastport" 2>/dev/null || true)
	own=$((pg_port_default + 0x$(printf %s "$root" | sha256sum | cut -c1-4) % 100))
	if [ -n "$last" ] && ! port_open "127.0.0.1:$last"; then
		echo "$last"
		return
	fi
	[ -n "$last" ] && say "postgresql: port $last, its last, is taken; restart the worker and the API, which still use it"
	if ! port_open "127.0.0.1:$own"; then
		echo "$own"
		return
	fi
	free_port
}

# pg_home: where the project's cluster and its log live. When we are root
# the server runs as the postgres user, which must reach them: a clone under
# a private home (/root is mode 700) keeps them under /var/lib/prodcat. A
# cluster that exists already is used where it is, so the registry never
# moves to a new, empty cluster. Call it after pg_bindir, which may create
# the postgres user.
pg_home() {
	local private
	private="/var/lib/prodcat/$(printf %s "$root" | sha256sum | cut -c1-16)"
	if [ -f "$data/postgres/PG_VERSION" ]; then
		echo "$data"
	elif [ -f "$private/postgres/PG_VERSION" ]; then
		echo "$private"
	elif [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$data" 2>/dev/null; then
		echo "$private"
	else
		echo "$data"
	fi
}

up_postgres() {
	local url=${DATABASE_URL:-}
	if [ -n "$url" ] && [ ! -f "$run/postgres.port" ] && psql "$url" -qAtc 'select 1' >/dev/null 2>&1; then
		say "postgresql: using DATABASE_URL (answers, not ours)"
		db_url=$url
		return
	fi
	local home pgdata pglog="$logs/postgres.log" bindir port pgpw
	bindir=$(pg_bindir)
	home=$(pg_home)
	pgdata="$home/postgres"
	pgpw="$home/postgres.superuser-password"
	if [ "$home" != "$data" ]; then
		pglog="$home/postgres.log"
		mkdir -p "$home" && ln -sfn "$pglog" "$logs/postgres.log"
		say "postgresql: the postgres user cannot reach $data, so the cluster lives in $home"
	fi
	if [ -f "$run/postgres.port" ] && as_pg "$bindir/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; then
		port=$(cat "$run/postgres.port")
		if [ -n "${PRODCAT_PG_PORT:-}" ] && [ "$PRODCAT_PG_PORT" != "$port" ]; then
			die "postgresql: already running on port $port, not PRODCAT_PG_PORT $PRODCAT_PG_PORT; stop it first (go tool task down) to start it so, or leave the setting as it was"
		fi
		say "postgresql: already running on port $port"
	else
		if [ ! -f "$pgdata/PG_VERSION" ]; then
			mkdir -p "$pgdata"
			[ "$(id -u)" = 0 ] && chown postgres: "$pgdata" && chmod 700 "$pgdata"
			# Passwords on every connection, so a wrong one fails here as
			# it would in production; the superuser's is random and kept
			# beside the cluster for this script alone.
			local pwtmp
			pwtmp=$(umask 077 && mktemp) || die "postgresql: cannot make a temporary file"
			if ! { (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pgpw") &&
				cp "$pgpw" "$pwtmp" && { [ "$(id -u)" != 0 ] || chown postgres: "$pwtmp"; }; }; then
				rm -f "$pwtmp"
				die "postgresql: cannot write $pgpw"
			fi
			if ! as_pg "$bindir/initdb" -D "$pgdata" -U postgres --auth=scram-sha-256 --pwfile="$pwtmp" -E UTF8 --locale=C.UTF-8 >>"$pglog" 2>&1; then
				rm -f "$pwtmp"
				die "postgresql: initdb failed; see $pglog"
			fi
			rm -f "$pwtmp"
		fi
		port=$(pg_port) || exit 1
		[ "$(id -u)" = 0 ] && touch "$pglog" && chown postgres: "$pglog"
		as_pg "$bindir/pg_ctl" start -D "$pgdata" -l "$pglog" -w -t 60 \
			-o "-p $port -k /tmp -c listen_addresses=127.0.0.1" >/dev/null 9>&- || die "postgresql: start failed; see $pglog"
		echo "$port" >"$run/postgres.port"
		echo "$port" >"$data/postgres.lastport"
		write_pid postgres "$(head -1 "$pgdata/postmaster.pid")"
		say "postgresql: up on 127.0.0.1:$port (pid $(pid_of postgres))"
	fi
	# A cluster made before passwords were set trusts every connection.
	local psqlc=(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1)
	# Through a password file, as a command line shows in ps.
	if [ -f "$pgpw" ]; then
		(umask 077 && printf '*:*:*:postgres:%s\n' "$(cat "$pgpw")" >"$home/postgres.pgpass") ||
			die "postgresql: cannot write $home/postgres.pgpass"
		psqlc=(env PGPASSFILE="$home/postgres.pgpass" "${psqlc[@]}")
	fi
	if [ "$("${psqlc[@]}" -c "select 1 from pg_roles where rolname='prodcat'")" != 1 ]; then
		"${psqlc[@]}" -c "create role prodcat login password 'prodcat'" >/dev/null
	fi
	if [ "$("${psqlc[@]}" -c "select 1 from pg_database where datname='prodcat'")" != 1 ]; then
		"${psqlc[@]}" -c "create database prodcat owner prodcat" >/dev/null
	fi
	db_url="postgres://prodcat:prodcat@127.0.0.1:$port/prodcat?sslmode=disable"
}

# write_env records where the stack answers, for the tasks, the scripts and
# a shell (set -a; . .data/stack.env; set +a).
# Values are single-quoted, which both a shell and Task's dotenv read
# literally; the file holds a secret, so only its owner reads it.
write_env() {
	local pairs=(DATABASE_URL "$1" TEMPORAL_ADDRESS "$temporal_addr" TEMPORAL_UI_URL "$ui_url"
		S3_ENDPOINT "$s3_endpoint" S3_ACCESS_KEY "$s3_access" S3_SECRET_KEY "$s3_secret"
		S3_BUCKET "$s3_bucket" S3_REGION "$s3_region" PRODCAT_API_ADDR "$api_addr")
	local i
	for ((i = 0; i < ${#pairs[@]}; i += 2)); do
		case ${pairs[i + 1]} in
		*"'"* | *$'\n'*) die "${pairs[i]} holds a quote or a line break; .data/stack.env cannot record it" ;;
		esac
	done
	(
		umask 077
		for ((i = 0; i < ${#pairs[@]}; i += 2)); do
			printf "%s='%s'\n" "${pairs[i]}" "${pairs[i + 1]}"
		done >"$envfile.tmp"
	) && mv "$envfile.tmp" "$envfile"
}

cmd_up() {
	mkdir -p "$run" "$logs"
	# Two ups at once would both start what is down; the second waits and
	# then finds it running.
	exec 9>"$run/up.lock"
	flock 9
	local start=$SECONDS
	# Cold builds of the two tools run side by side.
	local pids=()
	alive temporal || { temporal_bin >/dev/null & pids+=($!); }
	alive minio || { minio_bin >/dev/null & pids+=($!); }
	local p
	for p in "${pids[@]}"; do wait "$p" || die "a tool build failed"; done
	# Recorded once every service answers, so a failed up leaves the
	# record of the stack that runs.
	local db_url
	up_postgres
	up_minio
	up_temporal
	write_env "$db_url"
	say "stack is up in $((SECONDS - start))s; environment in .data/stack.env"
}

# stop_pid name: TERM, then KILL after 15 s; 40 s for the worker, which
# gives running activities 30 s (WorkerStopTimeout) to finish, and 45 s
# plus PRODCAT_DRAIN_DELAY for the API, which gives requests 30 s and cut
# ones 10 s to clean up (an upload's temporary file).
stop_pid() {
	local name=$1 pid ticks=60
	[ "$name" = worker ] && ticks=160
	[ "$name" = api ] && ticks=$((180 + 4 * $(drain_seconds)))
	[ -f "$run/$name.pid" ] || return 0
	if pid=$(pid_of "$name"); then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		local i
		for ((i = 0; i < ticks; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -0 "$pid" 2>/dev/null && { say "$name: did not stop, killing"; kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
		say "$name: stopped (pid $pid)"
	fi
	rm -f "$run/$name.pid"
}

# drain_seconds: PRODCAT_DRAIN_DELAY in whole seconds, rounded up (0 when
# unset or not a duration this understands).
drain_seconds() {
	local d=${PRODCAT_DRAIN_DELAY:-0s}
	case $d in
	*ms) echo 1 ;;
	*m) echo $((${d%m} * 60)) ;;
	*s) [[ ${d%s} =~ ^[0-9]+$ ]] && echo "${d%s}" || echo 0 ;;
	*) echo 0 ;;
	esac
}

stop_postgres() {
	[ -f "$run/postgres.pid" ] || return 0
	local pid i
	if pid=$(pid_of postgres); then
		kill -INT "$pid" # fast shutdown of the postmaster we started
		for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		say "postgresql: stopped (pid $pid)"
	fi
	rm -f "$run/postgres.pid" "$run/postgres.port"
}

cmd_down() { # cmd_down [service...]: all by default
	local name
	local names=("$@")
	[ ${#names[@]} -gt 0 ] || names=(api worker temporal minio postgres)
	for name in "${names[@]}"; do
		case $name in
		postgres) stop_postgres ;;
		api | worker | temporal | minio) stop_pid "$name" ;;
		*) die "down: unknown service $name" ;;
		esac
	done
}

# cmd_running prints the services of ours that are running.
cmd_running() {
	local name
	for name in api worker temporal minio postgres; do
		alive "$name" && echo "$name"
	done
	return 0
}

check() { # check label command...
	local label=$1
	shift
	if "$@" >/dev/null 2>&1; then printf '%-12s up    %s\n' "$label" "$detail"; else printf '%-12s DOWN  %s\n' "$label" "$detail"; failed=1; fi
}

cmd_status() {
	local failed=0 detail url
	url=$( [ -f "$envfile" ] && sed -n "s/^DATABASE_URL='\\(.*\\)'\$/\\1/p" "$envfile" || true)
	detail="$temporal_addr"
	check temporal port_open "$temporal_addr"
	detail="http://127.0.0.1:$temporal_ui_port"
	check temporal-ui curl -fsS -o /dev/null "http://127.0.0.1:$temporal_ui_port/"
	detail="http://$s3_endpoint (bucket $s3_bucket)"
	check minio curl -fsS -o /dev/null "http://$s3_endpoint/minio/health/ready"
	detail="${url%%\?*}"
	check postgresql psql "${url:-${DATABASE_URL:-}}" -qAtc 'select 1'
	# The worker and the API are started by `demo`; they are optional here.
	local name where
	for name in worker api; do
		where=""
		[ "$name" = api ] && where=", http://$api_addr"
		if alive "$name"; then printf '%-12s up    pid %s%s\n' "$name" "$(pid_of "$name")" "$where"; else printf '%-12s -     not started (go tool task %s)%s\n' "$name" "$name" "$where"; fi
	done
	return $failed
}

cmd_logs() {
	if [ $# -gt 0 ]; then tail -n 100 -f "$logs/$1.log"; else tail -n 20 "$logs"/*.log; fi
}

cmd_start() { # cmd_start name command...: (re)start a service of ours
	local name=$1
	shift
	mkdir -p "$run" "$logs"
	stop_pid "$name"
	spawn "$name" "$@"
	say "$name: started (pid $(pid_of "$name"), log .data/logs/$name.log)"
}

case ${1:-} in
up) cmd_up ;;
start) shift; [ $# -ge 2 ] || die "usage: stack.sh start NAME COMMAND..."; cmd_start "$@" ;;
down) shift; cmd_down "$@" ;;
running) cmd_running ;;
status) cmd_status ;;
logs) shift; cmd_logs "$@" ;;
*) die "usage: stack.sh up|down [service...]|start NAME COMMAND...|status|running|logs [service]" ;;
esac
