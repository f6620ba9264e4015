#!/usr/bin/env bash
# Load test: authgate against a bare Go reverse proxy, same backend, same
# client (wrk), on this machine.
#
#   scripts/load.sh                  # one round, 15 s per target
#   ROUNDS=3 scripts/load.sh         # three rounds; prints every round and the medians
#   DURATION=30s CONNECTIONS=128 scripts/load.sh
#
# Targets (TARGETS, default the first four), each measured with
# `wrk -t2 -c64 -d15s --latency` after a short warm-up:
#   bare               scripts/loadtest/bareproxy, GOGC=100 (Go's default)
#   bare-gogc400       the same with GOGC=400
#   public             authgate, a public route
#   protected          authgate, a protected route: ES256 access token obtained
#                      through POST /auth/register and /auth/login, Redis
#                      denylist, identity headers set, access log on (to a file)
#   protected-nolog    the same on an instance with log.access: false
#   protected-nopark   the same on an instance with limits.park_idle_after: 0s
#   protected-gogc100  the same on an instance run with GOGC=100
# authgate runs with its defaults (runtime.gogc 400, runtime.memory_limit
# 512MiB) and tls.mode off, as the bare proxy has no TLS. The first target
# is the one the "x bare" column divides by.
#
# Needs: go, wrk (Debian/Ubuntu: apt-get install wrk), curl, a Redis at
# REDIS_URL (default redis://127.0.0.1:6379/0; only keys under a prefix of
# this run's are written, and deleted at exit; redis-cli is used for that
# when present). The database is SQLite in a temporary directory unless
# DATABASE_URL is set (the hot path never touches it). With PERF_DIR set,
# each measured run is also recorded with `perf record -g` into
# PERF_DIR/TARGET-ROUND.data (DURATION in whole seconds).
set -euo pipefail

DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-1}
TARGETS=${TARGETS:-bare bare-gogc400 public protected}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PORT_BASE=${PORT_BASE:-18080}

for tool in go wrk curl; do
	if ! command -v "$tool" >/dev/null; then
		echo "load.sh: $tool is not installed" >&2
		[ "$tool" = wrk ] && echo "  install it with: sudo apt-get install wrk   (or build https://github.com/wg/wrk)" >&2
		exit 1
	fi
done

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/authgate-load.XXXXXX")
prefix="authgate_load_$$_$RANDOM:"
pids=()

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if command -v redis-cli >/dev/null; then
		redis-cli -u "$REDIS_URL" --scan --pattern "${prefix}*" 2>/dev/null |
			xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

backend_addr=127.0.0.1:$((PORT_BASE + 1))
bare_addr=127.0.0.1:$((PORT_BASE + 2))
bare400_addr=127.0.0.1:$((PORT_BASE + 3))
bare_stats=127.0.0.1:$((PORT_BASE + 6))
bare400_stats=127.0.0.1:$((PORT_BASE + 7))

echo "== building (in $work)"
(cd "$root" && go build -o "$work/authgate" . &&
	go build -o "$work/backend" ./scripts/loadtest/backend &&
	go build -o "$work/bareproxy" ./scripts/loadtest/bareproxy)

# wait_http URL: poll until URL answers 200, for up to 30 s.
wait_http() {
	for _ in $(seq 300); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "load.sh: $1 did not answer 200 within 30 s" >&2
	exit 1
}

"$work/authgate" keygen --alg ES256 >"$work/es256.pem"
chmod 600 "$work/es256.pem"

# start_authgate NAME PORT ACCESS_LOG [VAR=VALUE...]: an authgate instance
# on 127.0.0.1:PORT (ops on PORT+1) with log.access ACCESS_LOG and its log
# in $work/NAME.log. Instances share the signing key, the database and the
# Redis prefix, so one token is good for all of them. Sets gw_pid.
start_authgate() {
	local name=$1 port=$2 access=$3
	shift 3
	cat >"$work/$name.yaml" <<EOF
listen:
  https: ""
  http: "127.0.0.1:$port"
  ops: "127.0.0.1:$((port + 1))"
tls:
  mode: "off"
database:
  url: "${DATABASE_URL:-sqlite:$work/authgate.db}"
redis:
  url: "$REDIS_URL"
  key_prefix: "$prefix"
tokens:
  algorithm: ES256
  private_key_file: es256.pem
accounts:
  registration: open
log:
  access: $access
routes:
  - name: public
    path: /public
    auth: public
    upstream: http://$backend_addr
  - name: api
    path: /api
    auth: required
    upstream: http://$backend_addr
${extra_yaml:-}
EOF
	# GOGC/GOMEMLIMIT unset unless given: authgate applies its runtime: defaults.
	env -u GOGC -u GOMEMLIMIT "$@" "$work/authgate" serve --config "$work/$name.yaml" 2>"$work/$name.log" &
	gw_pid=$!
	pids+=("$gw_pid")
	wait_http "http://127.0.0.1:$((port + 1))/readyz"
}

echo "== starting backend, bare proxies and authgate"
"$work/backend" -listen "$backend_addr" 2>>"$work/backend.log" &
pids+=($!)
GOGC=100 "$work/bareproxy" -listen "$bare_addr" -target "http://$backend_addr" -stats "$bare_stats" 2>>"$work/bareproxy.log" &
bare_pid=$!
pids+=("$bare_pid")
GOGC=400 "$work/bareproxy" -listen "$bare400_addr" -target "http://$backend_addr" -stats "$bare400_stats" 2>>"$work/bareproxy.log" &
bare400_pid=$!
pids+=("$bare400_pid")
wait_http "http://$backend_addr/"
wait_http "http://$bare_addr/"
wait_http "http://$bare400_addr/"
gw=127.0.0.1:$((PORT_BASE + 10))
gw_ops=127.0.0.1:$((PORT_BASE + 11))
start_authgate authgate $((PORT_BASE + 10)) true
main_pid=$gw_pid

echo "== registering a user and logging in"
password="load-test-passphrase-$RANDOM$RANDOM"
curl -sf "http://$gw/auth/register" -H 'Content-Type: application/json' \
	-d "{\"username\":\"loadtest\",\"email\":\"loadtest@example.com\",\"password\":\"$password\"}" >/dev/null
token=$(curl -sf "http://$gw/auth/login" -H 'Content-Type: application/json' \
	-d "{\"username\":\"loadtest\",\"password\":\"$password\"}" |
	sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
	echo "load.sh: login returned no access token" >&2
	exit 1
fi
auth="Authorization: Bearer $token"

# The targets: name, URL, extra header, the proxy's process, where its
# allocation counters are. Optional ones start an authgate instance of
# their own.
names=() urls=() headers=() procs=() stats=()
add() { names+=("$1") urls+=("$2") headers+=("$3") procs+=("$4") stats+=("$5"); }
for t in $TARGETS; do
	case $t in
	bare) add bare "http://$bare_addr/api/items?page=2" "" "$bare_pid" "http://$bare_stats/" ;;
	bare-gogc400) add bare-gogc400 "http://$bare400_addr/api/items?page=2" "" "$bare400_pid" "http://$bare400_stats/" ;;
	public) add public "http://$gw/public/items?page=2" "" "$main_pid" "http://$gw_ops/metrics" ;;
	protected) add protected "http://$gw/api/items?page=2" "$auth" "$main_pid" "http://$gw_ops/metrics" ;;
	protected-nolog)
		start_authgate nolog $((PORT_BASE + 20)) false
		add protected-nolog "http://127.0.0.1:$((PORT_BASE + 20))/api/items?page=2" "$auth" "$gw_pid" \
			"http://127.0.0.1:$((PORT_BASE + 21))/metrics"
		;;
	protected-nopark)
		extra_yaml=$'limits:\n  park_idle_after: 0s' start_authgate nopark $((PORT_BASE + 40)) true
		add protected-nopark "http://127.0.0.1:$((PORT_BASE + 40))/api/items?page=2" "$auth" "$gw_pid" \
			"http://127.0.0.1:$((PORT_BASE + 41))/metrics"
		;;
	protected-gogc100)
		start_authgate gogc100 $((PORT_BASE + 30)) true GOGC=100
		add protected-gogc100 "http://127.0.0.1:$((PORT_BASE + 30))/api/items?page=2" "$auth" "$gw_pid" \
			"http://127.0.0.1:$((PORT_BASE + 31))/metrics"
		;;
	*)
		echo "load.sh: unknown target $t" >&2
		exit 2
		;;
	esac
done
# Every target must answer 200 before it is measured, and the protected
# route 401 without the token.
for i in "${!names[@]}"; do
	args=()
	[ -n "${headers[$i]}" ] && args=(-H "${headers[$i]}")
	code=$(curl -s -o /dev/null -w '%{http_code}' "${args[@]}" "${urls[$i]}")
	[ "$code" = 200 ] || { echo "load.sh: ${names[$i]} answered $code" >&2; exit 1; }
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$gw/api/items")
[ "$code" = 401 ] || { echo "load.sh: protected route answered $code without a token; want 401" >&2; exit 1; }
tick=$(getconf CLK_TCK)

# cpu_ticks PID: user + system CPU time the process used so far, in ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# alloc_counters URL: "mallocs bytes gc_cycles" so far, from the bare
# proxy's -stats listener or authgate's /metrics (Go runtime series).
alloc_counters() {
	curl -sf "$1" | awk '
		$1 == "mallocs" || $1 == "go_memstats_mallocs_total" {m = $2}
		$1 == "alloc_bytes" || $1 == "go_memstats_alloc_bytes_total" {b = $2}
		$1 == "gc_cycles" || $1 == "go_gc_duration_seconds_count" {g = $2}
		END {printf "%.0f %.0f %.0f\n", m, b, g}'
}

# to_ms VALUE: wrk's latency ("812.00us", "1.20ms", "1.01s") in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
		printf "%.3f", n
	}'
}

# measure I: run wrk against target I; prints
# "rps p50_ms p99_ms cpu_us allocs kib gcs errors": cpu_us is the CPU time
# (user + system) the proxy process spent per request (unlike req/s, it
# hardly moves when something else on the machine competes for the
# cores); allocs and kib are the proxy process's heap allocations and
# allocated KiB per request, gcs its garbage collections during the run.
measure() {
	local i=$1 args=(-t"$THREADS" -c"$CONNECTIONS" --latency)
	[ -n "${headers[$i]}" ] && args+=(-H "${headers[$i]}")
	wrk "${args[@]}" -d"$WARMUP" "${urls[$i]}" >/dev/null
	local out before after m0 b0 g0 m1 b1 g1
	read -r m0 b0 g0 <<<"$(alloc_counters "${stats[$i]}")"
	before=$(cpu_ticks "${procs[$i]}")
	local perf_pid=""
	if [ -n "${PERF_DIR:-}" ]; then
		perf record -F 999 -g -p "${procs[$i]}" -o "$PERF_DIR/${names[$i]}-$round.data" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	out=$(wrk "${args[@]}" -d"$DURATION" "${urls[$i]}")
	[ -z "$perf_pid" ] || wait "$perf_pid"
	after=$(cpu_ticks "${procs[$i]}")
	read -r m1 b1 g1 <<<"$(alloc_counters "${stats[$i]}")"
	echo "$out" >"$work/wrk-${names[$i]}-$round.txt"
	local rps p50 p99 n cpu errs
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
	p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
	n=$(echo "$out" | awk '/requests in/ {print $1}')
	cpu=$(awk -v t="$((after - before))" -v hz="$tick" -v n="$n" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
	allocs=$(awk -v a="$m0" -v b="$m1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) / n}')
	kib=$(awk -v a="$b0" -v b="$b1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n / 1024}')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
	echo "$rps $p50 $p99 $cpu $allocs $kib $((g1 - g0)) ${errs:-none}"
}

echo "== machine: $(nproc) cores, $(uname -sr), $(go version | awk '{print $3}'), load average:$(uptime | sed 's/.*load average://')"
echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after a $WARMUP warm-up), $ROUNDS round(s)"
declare -A results
for round in $(seq "$ROUNDS"); do
	for i in "${!names[@]}"; do
		r=$(measure "$i")
		results[$i,$round]=$r
		printf 'round %d  %-17s %s\n' "$round" "${names[$i]}" "$r"
	done
done

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo
printf '%-17s %9s %7s %8s %8s %10s %10s %8s %s\n' target req/s "x bare" "p50 ms" "p99 ms" "CPU us/req" "allocs/req" "KiB/req" "req/s per round (min-max)"
bare_rps=""
for i in "${!names[@]}"; do
	rps=() p50=() p99=() cpu=() al=() kb=()
	for round in $(seq "$ROUNDS"); do
		read -r a b c d e f _ <<<"${results[$i,$round]}"
		rps+=("$a") p50+=("$b") p99+=("$c") cpu+=("$d") al+=("$e") kb+=("$f")
	done
	m=$(median "${rps[@]}")
	[ -z "$bare_rps" ] && bare_rps=$m
	lo=$(printf '%s\n' "${rps[@]}" | sort -g | head -1)
	hi=$(printf '%s\n' "${rps[@]}" | sort -g | tail -1)
	printf '%-17s %9.0f %7.2f %8.3f %8.3f %10.1f %10.1f %8.2f %s\n' "${names[$i]}" "$m" "$(awk -v a="$m" -v b="$bare_rps" 'BEGIN {print a / b}')" \
		"$(median "${p50[@]}")" "$(median "${p99[@]}")" "$(median "${cpu[@]}")" "$(median "${al[@]}")" "$(median "${kb[@]}")" "$lo-$hi"
done
echo
echo "authgate access log lines written: $(cat "$work"/authgate.log "$work"/gogc100.log 2>/dev/null | grep -c '"msg":"request"' || true)"
