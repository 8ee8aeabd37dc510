#!/usr/bin/env bash
# bench/load.sh: a bounded SIPp load run through a SIP server, in calls per second.
#
# Registers one callee phone (user bob, tests/sipp/register.xml, then bench/sipp/uas_load.xml
# answering on the same port), then runs the caller (bench/sipp/uac_load.xml, alice -> bob)
# at rising rates, STEP seconds each. Per step it records the calls placed, completed and
# failed on the caller side, the calls the callee completed, and the server's CPU time
# (utime+stime of the server and all its child processes, from /proc), CPU per call, RSS of
# the main process and PSS of all its processes. It stops after the first step with a failed
# call (or a callee that completed fewer calls than the caller), or after the last rate; every
# process it started is stopped by its PID. One call = INVITE 180 200 ACK BYE 200, held
# HOLD_MS milliseconds between the ACK and the BYE (0 by default), so about rate x HOLD_MS/1000
# calls are up at once. RSS and PSS are sampled every half second during the step; the
# table shows the highest sample (the memory with the most calls up) and VmHWM, the peak RSS
# of the main process since it started.
#
# Usage:
#   bench/load.sh kamailio            start Kamailio with bench/kamailio.cfg and load it
#   bench/load.sh callcomp            start target/release/callcomp (open registration; with
#                                     AUTH=1, users alice and bob with passwords instead)
#   bench/load.sh addr IP:PORT PID    load a server that is already running (PID for /proc)
#
# Environment (defaults in brackets):
#   RATES ["100 200 500 1000 1500"]  STEP [10] seconds per rate   KEEP_GOING [0]: 1 runs all
#   HOLD_MS [0] call length in milliseconds
#   AUTH [0]: 1 registers bob with a password and places authenticated calls (each INVITE
#     challenged with 407 and sent again with credentials, bench/sipp/uac_load_auth.xml);
#     the callcomp target then configures alice and bob with passwords
#   TARGET_PORT [5070 kamailio, 5080 callcomp]  UAS_PORT [5090]  UAC_PORT [5091]
#   KAMAILIO_OPTS ["-m 256 -M 8"] (Debian defaults; e.g. "-m 2048 -M 8 -x tlsf -X tlsf")
#   KAMAILIO_CHILDREN [2]  CALLCOMP_BIN [$CARGO_TARGET_DIR or target]/release/callcomp
#   OUT [a fresh directory under /tmp]: logs, SIPp statistics and results.txt
#
# Needs sipp (Debian sip-tester) and, for the kamailio target, kamailio. Figures depend on
# the machine: on a 2-core host the server and both SIPp processes share the cores, so quote
# CPU per call beside calls per second, and repeat the top steps (see
# /work/shared/notes/load-testing.md or docs in bench/README.md).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
tests_sipp="$root/crates/server/tests/sipp"

RATES=${RATES:-"100 200 500 1000 1500"}
STEP=${STEP:-10}
HOLD_MS=${HOLD_MS:-0}
AUTH=${AUTH:-0}
KEEP_GOING=${KEEP_GOING:-0}
UAS_PORT=${UAS_PORT:-5090}
UAC_PORT=${UAC_PORT:-5091}
KAMAILIO_OPTS=${KAMAILIO_OPTS:-"-m 256 -M 8"}
KAMAILIO_CHILDREN=${KAMAILIO_CHILDREN:-2}
OUT=${OUT:-$(mktemp -d /tmp/callcomp-load.XXXXXX)}
mkdir -p "$OUT"

die() { echo "load.sh: $*" >&2; exit 1; }
command -v sipp >/dev/null || die "sipp is missing (apt-get install -y sip-tester)"

started_pids=()
cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for pid in "${started_pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# --- the target --------------------------------------------------------------------------

mode=${1:-}
case "$mode" in
  kamailio)
    command -v kamailio >/dev/null || die "kamailio is missing (apt-get install -y kamailio)"
    TARGET_PORT=${TARGET_PORT:-5070}
    target="127.0.0.1:$TARGET_PORT"
    # shellcheck disable=SC2086 # KAMAILIO_OPTS is a list of options
    kamailio -f "$here/kamailio.cfg" -DD -E -l "udp:$target" -n "$KAMAILIO_CHILDREN" \
      $KAMAILIO_OPTS -P "$OUT/kamailio.pid" >"$OUT/server.log" 2>&1 &
    server_pid=$!
    started_pids+=("$server_pid")
    label="kamailio $(kamailio -v | head -1 | awk '{print $3}') ($KAMAILIO_OPTS, $KAMAILIO_CHILDREN children)"
    ;;
  callcomp)
    TARGET_PORT=${TARGET_PORT:-5080}
    target="127.0.0.1:$TARGET_PORT"
    bin=${CALLCOMP_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/callcomp}
    if [ ! -x "$bin" ]; then
      (cd "$root" && cargo build --release -p callcomp)
    fi
    users=""
    if [ "$AUTH" = 1 ]; then
      users=$(printf '[users.alice]\npassword = "alice-secret"\n[users.bob]\npassword = "bob-secret"\n')
    fi
    cat >"$OUT/callcomp.toml" <<EOF
# Written by bench/load.sh: open registration (no users) unless AUTH=1, UDP only, quiet log.
domain = "127.0.0.1"
[sip]
listen = ["$target"]
transports = ["udp"]
[api]
listen = "127.0.0.1:$((TARGET_PORT + 1))"
[store]
path = "$OUT/callcomp.db"
[log]
level = "warn"
$users
EOF
    "$bin" serve --config "$OUT/callcomp.toml" >"$OUT/server.log" 2>&1 &
    server_pid=$!
    started_pids+=("$server_pid")
    label="callcomp ($bin)"
    [ "$AUTH" = 1 ] && label="$label, authenticated calls"
    ;;
  addr)
    target=${2:-}
    server_pid=${3:-}
    [ -n "$target" ] && [ -n "$server_pid" ] || die "usage: load.sh addr IP:PORT PID"
    label="server pid $server_pid at $target"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
    ;;
esac

# --- /proc measurements ------------------------------------------------------------------

clk_tck=$(getconf CLK_TCK)

descendants() {
  local pid=$1 child
  echo "$pid"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    descendants "$child"
  done
}

# utime+stime of the server and its children, in clock ticks.
cpu_ticks() {
  local total=0 pid rest
  for pid in $(descendants "$server_pid"); do
    if [ -r "/proc/$pid/stat" ]; then
      # Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
      rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
      set -- $rest
      total=$((total + ${12} + ${13}))
    fi
  done
  echo "$total"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }

pss_kb() {
  local total=0 pid kb
  for pid in $(descendants "$server_pid"); do
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# The last value of a column of a SIPp -trace_stat file (';'-separated, header first).
stat_field() {
  local file=$1 column=$2
  [ -s "$file" ] || { echo 0; return; }
  awk -F';' -v col="$column" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    { v = $c } END { print (c && v != "") ? v + 0 : 0 }' "$file"
}

# --- the callee phone --------------------------------------------------------------------

uac_scenario="$here/sipp/uac_load.xml"
uas_auth=()
uac_auth=()
if [ "$AUTH" = 1 ]; then
  uac_scenario="$here/sipp/uac_load_auth.xml"
  uas_auth=(-au bob -ap bob-secret)
  uac_auth=(-au alice -ap alice-secret)
fi

registered=0
for _ in $(seq 1 20); do
  if timeout 10 sipp -sf "$tests_sipp/register.xml" -m 1 -i 127.0.0.1 -p "$UAS_PORT" \
      -key user bob -key expires 3600 "${uas_auth[@]}" -nostdin -timeout 2s -timeout_error \
      "$target" >"$OUT/register.log" 2>&1; then
    registered=1
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || die "the server exited; see $OUT/server.log"
  sleep 0.5
done
[ "$registered" = 1 ] || die "could not register bob at $target; see $OUT/register.log"

sipp -sf "$here/sipp/uas_load.xml" -i 127.0.0.1 -p "$UAS_PORT" -nostdin \
  -trace_stat -stf "$OUT/uas.csv" -fd 1 -trace_err -error_file "$OUT/uas_errors.log" \
  >/dev/null 2>"$OUT/uas.stderr" &
uas_pid=$!
started_pids+=("$uas_pid")
sleep 1

# --- the steps ---------------------------------------------------------------------------

results="$OUT/results.txt"
{
  echo "# bench/load.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores: $label"
  echo "# target $target, $STEP s per rate, calls held $HOLD_MS ms; CPU = server CPU-seconds in the step"
  echo "# rss_kB, pss_kB: highest half-second sample in the step; hwm_kB: peak RSS since start"
  printf '%6s %7s %7s %6s %7s %7s %9s %9s %9s %9s\n' \
    rate placed ok failed callee cpu_s us/call rss_kB pss_kB hwm_kB
} | tee "$results"

for rate in $RATES; do
  calls=$((rate * STEP))
  callee_before=$(stat_field "$OUT/uas.csv" 'SuccessfulCall(C)')
  ticks_before=$(cpu_ticks)
  uac_csv="$OUT/uac-$rate.csv"
  status=0
  timeout -s KILL $((STEP + 30)) sipp -sf "$uac_scenario" -i 127.0.0.1 \
    -p "$UAC_PORT" -s bob -key user alice "${uac_auth[@]}" -r "$rate" -m "$calls" \
    -l $((rate * (4 + HOLD_MS / 1000) + 100)) -d "$HOLD_MS" \
    -nostdin -timeout $((STEP + 20))s -trace_stat -stf "$uac_csv" -fd 1 \
    -trace_err -error_file "$OUT/uac-$rate-errors.log" \
    "$target" >/dev/null 2>"$OUT/uac-$rate.stderr" &
  uac_pid=$!
  started_pids+=("$uac_pid")
  # Memory while the calls are up: the highest of half-second samples.
  max_rss=0
  max_pss=0
  while kill -0 "$uac_pid" 2>/dev/null; do
    r=$(rss_kb); p=$(pss_kb)
    [ "${r:-0}" -gt "$max_rss" ] && max_rss=$r
    [ "${p:-0}" -gt "$max_pss" ] && max_pss=$p
    sleep 0.5
  done
  wait "$uac_pid" || status=$?
  ticks_after=$(cpu_ticks)
  # The callee's statistics are written once a second.
  sleep 2
  callee_after=$(stat_field "$OUT/uas.csv" 'SuccessfulCall(C)')
  placed=$(stat_field "$uac_csv" 'OutgoingCall(C)')
  ok=$(stat_field "$uac_csv" 'SuccessfulCall(C)')
  failed=$(stat_field "$uac_csv" 'FailedCall(C)')
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # SIPp failed without counting a failed call (killed, timed out): count the rest.
    failed=$((calls - ok))
  fi
  callee=$((callee_after - callee_before))
  cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }')
  per_call=$(awk -v c="$cpu" -v n="$ok" 'BEGIN { if (n > 0) printf "%.0f", c * 1e6 / n; else print "-" }')
  printf '%6s %7s %7s %6s %7s %7s %9s %9s %9s %9s\n' \
    "$rate" "$placed" "$ok" "$failed" "$callee" "$cpu" "$per_call" "$max_rss" "$max_pss" \
    "$(hwm_kb)" | tee -a "$results"
  if [ "$KEEP_GOING" != 1 ] && { [ "$failed" -ne 0 ] || [ "$callee" -lt "$ok" ]; }; then
    echo "# stopped: failures at $rate calls/s" | tee -a "$results"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "# the server exited" | tee -a "$results"; break; }
done

echo "# logs and statistics in $OUT"
