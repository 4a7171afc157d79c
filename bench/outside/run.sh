#!/usr/bin/env bash
# Independent ("outside") benchmark of sockwave vs ws vs ws-without-bufferutil.
# Written from scratch; does not use bench/run.mjs, bench/lib/* or bench/scenarios.mjs.
# It only starts the server scripts bench/servers/{sockwave,ws}.mjs and drives them with the
# neutral C load generator wsload (shared/loadgen). See README.md beside this file.
#
# Env: ROUNDS (default 5), WSLOAD (default <repo>/.bench/wsload), SCENARIOS (space-separated
# subset of: echo16 echo1k echo64k bcast1000 connect; default all), OUT (raw file path).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-5}
WSLOAD=${WSLOAD:-$REPO/.bench/wsload}
SERVERS_DIR=$REPO/bench/servers
TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$REPO/.bench"
OUT=${OUT:-$REPO/.bench/outside-$TS.txt}
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/sockwave-outside.XXXXXX")
WSLOAD_TIMEOUT=60

[ -x "$WSLOAD" ] || { echo "wsload not found at $WSLOAD (build shared/loadgen with make)" >&2; exit 2; }
[ -f "$REPO/dist/index.js" ] || { echo "dist/ missing: build sockwave first" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset needed (util-linux)" >&2; exit 2; }

# Enough descriptors for 1000+ connections on either side.
want_nofile=65536
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_nofile" ]; then want_nofile=$hard; fi
ulimit -n "$want_nofile" 2>/dev/null || true

# ---------------------------------------------------------------- server lifecycle
SRV_PID=""
stop_server() {
  if [ -n "$SRV_PID" ]; then
    kill "$SRV_PID" 2>/dev/null
    # give it 5 s to exit on SIGTERM, then SIGKILL this PID only
    for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SRV_PID" 2>/dev/null && kill -9 "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
  fi
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

free_port() {
  # Ask the kernel for an unused port on 127.0.0.1 (bind to 0), then release it.
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start_server NAME PORT LOGFILE -> sets SRV_PID; returns 0 when 'listening' was printed
start_server() {
  local name=$1 port=$2 log=$3
  case $name in
    sockwave) taskset -c 0 node "$SERVERS_DIR/sockwave.mjs" "$port" >"$log" 2>&1 & ;;
    ws)       env -u WS_NO_BUFFER_UTIL taskset -c 0 node "$SERVERS_DIR/ws.mjs" "$port" >"$log" 2>&1 & ;;
    ws-nobu)  WS_NO_BUFFER_UTIL=1 taskset -c 0 node "$SERVERS_DIR/ws.mjs" "$port" >"$log" 2>&1 & ;;
  esac
  SRV_PID=$!   # taskset and env exec, so this is the node process itself
  for _ in $(seq 150); do
    grep -q listening "$log" 2>/dev/null && return 0
    kill -0 "$SRV_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- scenarios
# name | wsload args (port and -S added later) | figure key
scen_args() {
  case $1 in
    echo16)    echo "echo -u /echo -c 64 -P 16 -s 16 -t 3 -w 1" ;;
    echo1k)    echo "echo -u /echo -c 64 -P 16 -s 1024 -b -t 3 -w 1" ;;
    echo64k)   echo "echo -u /echo -c 16 -P 4 -s 65536 -b -t 3 -w 1" ;;
    bcast1000) echo "broadcast -u /broadcast -c 1000 -B 8 -s 16 -t 3 -w 1" ;;
    connect)   echo "connect -k 3000 -q 64" ;;
  esac
}
scen_key() { [ "$1" = connect ] && echo conns_per_s || echo msgs_per_s; }
# Unmeasured run against the same server first, for scenarios without a timed warm-up (-w).
scen_warm() { [ "$1" = connect ] && echo "connect -k 1000 -q 64"; }

SCENARIOS=${SCENARIOS:-"echo16 echo1k echo64k bcast1000 connect"}
SERVERS=(sockwave ws ws-nobu)

{
  echo "# sockwave outside benchmark  started=$TS  rounds=$ROUNDS"
  echo "# host=$(uname -n) kernel=$(uname -r) node=$(node -v) cpus=$(nproc) nofile=$(ulimit -n)"
  echo "# sockwave_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo ?) src_dirty_files=$(git -C "$REPO" status --porcelain -- src 2>/dev/null | wc -l) (results are for dist/, not src/)"
  echo "# wsload=$WSLOAD  server pinned: taskset -c 0, wsload pinned: taskset -c 1"
} | tee "$OUT"

dist_fp() { find "$REPO/dist" -name '*.js' -type f -print0 | sort -z | xargs -0 cat | md5sum | cut -c1-12; }
DIST0=$(dist_fp)
echo "# dist_fingerprint_start=$DIST0 (md5 of dist/**/*.js)" | tee -a "$OUT"
T0=$(date +%s)
for scen in $SCENARIOS; do
  args=$(scen_args "$scen")
  [ -n "$args" ] || { echo "unknown scenario $scen" >&2; continue; }
  echo "== $scen: wsload $args" >&2
  for ((r = 1; r <= ROUNDS; r++)); do
    # rotate the starting server each round so no implementation always goes first
    for ((i = 0; i < 3; i++)); do
      srv=${SERVERS[$(((i + r - 1) % 3))]}
      port=$(free_port)
      log=$LOGDIR/$scen-$srv-$r.log
      nm=-
      if ! start_server "$srv" "$port" "$log"; then
        echo "RUN scen=$scen server=$srv round=$r port=$port pid=$SRV_PID native_mask=- rc=start_failed RESULT error=server_start_failed" | tee -a "$OUT"
        stop_server
        continue
      fi
      nm=$(grep -o 'native_mask=[0-9]*' "$log" | head -1 | cut -d= -f2)
      [ -n "$nm" ] || nm=-
      sleep 0.3
      warm=$(scen_warm "$scen")
      # shellcheck disable=SC2086
      [ -z "$warm" ] || timeout -k 5 "$WSLOAD_TIMEOUT" taskset -c 1 "$WSLOAD" $warm -p "$port" >/dev/null 2>&1
      # shellcheck disable=SC2086
      res=$(timeout -k 5 "$WSLOAD_TIMEOUT" taskset -c 1 "$WSLOAD" $args -p "$port" -S "$SRV_PID" 2>"$log.wsload.err")
      rc=$?
      line=$(printf '%s\n' "$res" | grep '^RESULT ' | tail -1)
      [ -n "$line" ] || line="RESULT error=no_result"
      alive=1; kill -0 "$SRV_PID" 2>/dev/null || alive=0
      stop_server
      errtxt=$(head -c 200 "$log.wsload.err" | tr '\n' ' ')
      echo "RUN scen=$scen server=$srv round=$r port=$port native_mask=$nm rc=$rc srv_alive=$alive $line${errtxt:+ stderr=\"$errtxt\"}" | tee -a "$OUT"
    done
  done
done
T1=$(date +%s)
echo "# wall_s=$((T1 - T0))" | tee -a "$OUT"
DIST1=$(dist_fp)
echo "# dist_fingerprint_end=$DIST1" | tee -a "$OUT"
[ "$DIST0" = "$DIST1" ] || echo "# WARNING: dist/ changed during the run: sockwave results mix two builds" | tee -a "$OUT"

# ---------------------------------------------------------------- summary (awk over the raw file)
SUMMARY=$(awk -v order="$SCENARIOS" '
function kv(line, key,   re, m) {
  re = "(^| )" key "=[^ ]*"
  if (match(line, re)) { m = substr(line, RSTART, RLENGTH); sub(/^ /, "", m); return substr(m, length(key) + 2) }
  return ""
}
function median(str,   a, n, i, j, t) {
  n = split(str, a, " ")
  if (n == 0) return ""
  for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return (n % 2) ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function mn(str,   a, n, i, m) { n = split(str, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 < m) m = a[i] + 0; return m }
function mx(str,   a, n, i, m) { n = split(str, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 > m) m = a[i] + 0; return m }
function add(arr, k, v) { arr[k] = (k in arr) ? arr[k] " " v : v }
function fmt(x) { return (x == "") ? "-" : sprintf("%.0f", x) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
/^RUN / {
  sc = kv($0, "scen"); sv = kv($0, "server")
  fig = (sc == "connect") ? kv($0, "conns_per_s") : kv($0, "msgs_per_s")
  bad = (kv($0, "error") != "" || fig == "" || kv($0, "rc") != "0" || kv($0, "srv_alive") != "1")
  if (sc == "connect") { if (kv($0, "failed") + 0 > 0 || kv($0, "unclean") + 0 > 0 || kv($0, "done") + 0 != kv($0, "k") + 0) bad = 1 }
  else if (kv($0, "errors") + 0 > 0 || kv($0, "proto_errors") + 0 > 0 || kv($0, "lost_conns") + 0 > 0 || kv($0, "unexpected_close") + 0 > 0) bad = 1
  nm = kv($0, "native_mask")
  if (sv == "ws" && nm != "1") warn = warn "\n- " sc " round " kv($0, "round") ": ws expected native_mask=1, got " nm
  if (sv == "ws-nobu" && nm != "0") warn = warn "\n- " sc " round " kv($0, "round") ": ws-nobu expected native_mask=0, got " nm
  if (bad) { nbad[sc "|" sv]++; warn = warn "\n- failed/flagged run: " sc " " sv " round " kv($0, "round") " (" substr($0, index($0, "RESULT")) ")"; next }
  add(F, sc "|" sv, fig)
  s = kv($0, "srv_cpu"); g = kv($0, "gen_cpu"); b = kv($0, "sys_busy")
  add(SC, sc "|" sv, s); add(GC, sc, g)
  if (b != "" && b + 0 >= 0 && s + 0 >= 0) { o = b - s - g; add(OT, sc, o); add(OTS, sc "|" sv, o) }
}
END {
  ns = split(order, S, " "); split("sockwave ws ws-nobu", V, " ")
  print "| scenario | unit | sockwave | ws | ws-nobu | sockwave/ws | sockwave/ws-nobu | runs ok (sw/ws/nobu) | spread (max-min)/median sw/ws/nobu |"
  print "|---|---|---:|---:|---:|---:|---:|---|---|"
  for (i = 1; i <= ns; i++) {
    sc = S[i]; unit = (sc == "connect") ? "conns/s" : (sc == "bcast1000" ? "deliveries/s" : "msgs/s")
    for (j = 1; j <= 3; j++) {
      k = sc "|" V[j]; med[j] = median(F[k]); cnt[j] = (k in F) ? split(F[k], tmp, " ") : 0
      sp[j] = (med[j] == "" || med[j] == 0) ? "-" : sprintf("%.0f%%", 100 * (mx(F[k]) - mn(F[k])) / med[j])
    }
    printf "| %s | %s | %s | %s | %s | %s | %s | %d/%d/%d | %s/%s/%s |\n", sc, unit, fmt(med[1]), fmt(med[2]), fmt(med[3]),
      ratio(med[1], med[2]), ratio(med[1], med[3]), cnt[1], cnt[2], cnt[3], sp[1], sp[2], sp[3]
  }
  print ""
  print "CPU (cores busy during the measured window, medians; other = sys_busy - srv_cpu - gen_cpu):"
  print ""
  print "| scenario | srv_cpu sw | srv_cpu ws | srv_cpu nobu | gen_cpu | other (all runs) | other max | other sw/ws/nobu |"
  print "|---|---:|---:|---:|---:|---:|---:|---|"
  for (i = 1; i <= ns; i++) {
    sc = S[i]
    printf "| %s | %s | %s | %s | %s | %s | %s | %s/%s/%s |\n", sc,
      (SC[sc "|sockwave"] == "") ? "-" : sprintf("%.2f", median(SC[sc "|sockwave"])),
      (SC[sc "|ws"] == "") ? "-" : sprintf("%.2f", median(SC[sc "|ws"])),
      (SC[sc "|ws-nobu"] == "") ? "-" : sprintf("%.2f", median(SC[sc "|ws-nobu"])),
      (GC[sc] == "") ? "-" : sprintf("%.2f", median(GC[sc])),
      (OT[sc] == "") ? "-" : sprintf("%.2f", median(OT[sc])),
      (OT[sc] == "") ? "-" : sprintf("%.2f", mx(OT[sc])),
      (OTS[sc "|sockwave"] == "") ? "-" : sprintf("%.2f", median(OTS[sc "|sockwave"])),
      (OTS[sc "|ws"] == "") ? "-" : sprintf("%.2f", median(OTS[sc "|ws"])),
      (OTS[sc "|ws-nobu"] == "") ? "-" : sprintf("%.2f", median(OTS[sc "|ws-nobu"]))
  }
  if (warn != "") { print ""; print "Notes:" warn }
}' "$OUT")

echo
echo "$SUMMARY"
{ echo; echo "$SUMMARY" | sed 's/^/# /'; } >>"$OUT"
echo
echo "raw lines: $OUT   (server/wsload logs: $LOGDIR)"
