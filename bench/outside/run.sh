#!/usr/bin/env bash
# Independent ("outside") benchmark of sockwave vs ws vs ws-without-bufferutil.
# Written from scratch; does not use bench/run.mjs, bench/lib/*, bench/scenarios.mjs or bench/client/*.
# Server scenarios: it starts the server scripts bench/servers/{sockwave,ws}.mjs and drives them
# with the neutral C load generator wsload (shared/loadgen). Client scenarios: it runs its own
# client drivers (client-sockwave.mjs, client-ws.mjs, beside this file) against its own raw-net
# echo server (echo-server.mjs, beside this file). See README.md beside this file.
#
# Env: ROUNDS (default 5), WSLOAD (default <repo>/.bench/wsload), SCENARIOS (space-separated
# subset of: echo16 echo1k echo64k deflate16 bcast1000 bcast16k connect idle client16 client1k
# client64k; default all), OUT (raw file path).
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
WSLOAD_TIMEOUT=60     # per wsload run (idle: IDLE_TIMEOUT)
IDLE_TIMEOUT=90
CLIENT_TIMEOUT=40     # per client-driver run (the driver's own watchdog: warm-up + window + 20 s)
CLIENT_WARM=1         # client drivers: warm-up and measured seconds (as wsload's -w 1 -t 3)
CLIENT_SECS=3

[ -x "$WSLOAD" ] || { echo "wsload not found at $WSLOAD (build shared/loadgen with make)" >&2; exit 2; }
[ -f "$REPO/dist/index.js" ] || { echo "dist/ missing: build sockwave first" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset needed (util-linux)" >&2; exit 2; }

# Enough descriptors for 1000+ connections on either side, and for idle's 10,000 (about 10,050
# per side: the servers inherit this shell's limit; wsload raises its own soft limit to the hard one).
want_nofile=65536
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_nofile" ]; then want_nofile=$hard; fi
ulimit -n "$want_nofile" 2>/dev/null || true
IDLE_CONNS=10000

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

# start_server NAME PORT LOGFILE [SERVER FLAGS...] -> sets SRV_PID; returns 0 when 'listening' was
# printed. NAME: sockwave | ws | ws-nobu (bench/servers), echo (echo-server.mjs, client scenarios).
start_server() {
  local name=$1 port=$2 log=$3
  shift 3
  case $name in
    sockwave) env -u WS_NO_BUFFER_UTIL taskset -c 0 node "$SERVERS_DIR/sockwave.mjs" "$port" "$@" >"$log" 2>&1 & ;;
    ws)       env -u WS_NO_BUFFER_UTIL taskset -c 0 node "$SERVERS_DIR/ws.mjs" "$port" "$@" >"$log" 2>&1 & ;;
    ws-nobu)  WS_NO_BUFFER_UTIL=1 taskset -c 0 node "$SERVERS_DIR/ws.mjs" "$port" "$@" >"$log" 2>&1 & ;;
    # (glibc keeps freed memory mapped: the echo server must not spend its time faulting pages in.)
    echo)     env -u WS_NO_BUFFER_UTIL GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=67108864 taskset -c 0 node "$HERE/echo-server.mjs" "$port" >"$log" 2>&1 & ;;
    *) echo "unknown server $name" >&2; return 1 ;;
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
# Server scenarios: wsload args (port and -S added later)
scen_args() {
  case $1 in
    echo16)    echo "echo -u /echo -c 64 -P 16 -s 16 -t 3 -w 1" ;;
    echo1k)    echo "echo -u /echo -c 64 -P 16 -s 1024 -b -t 3 -w 1" ;;
    echo64k)   echo "echo -u /echo -c 16 -P 4 -s 65536 -b -t 3 -w 1" ;;
    deflate16) echo "echo -u /echo -c 64 -P 16 -s 16 -z -t 3 -w 1" ;;
    bcast1000) echo "broadcast -u /broadcast -c 1000 -B 8 -s 16 -t 3 -w 1" ;;
    bcast16k)  echo "broadcast -u /broadcast -c 1000 -B 8 -s 16384 -z -t 3 -w 1" ;;
    connect)   echo "connect -k 20000 -q 64" ;;
    idle)      echo "idle -c $IDLE_CONNS -q 64 -e 2" ;;
  esac
}
# Flags for the server scripts
scen_flags() { case $1 in deflate16 | bcast16k) echo "--deflate" ;; esac; }
# Unmeasured run against the same server first, for scenarios without a timed warm-up (-w): every
# server's connect rate still climbs over its first ~8,000 lifecycles (JIT), so 10,000 of them.
scen_warm() { [ "$1" = connect ] && echo "connect -k 10000 -q 64"; }
# Client scenarios: driver args CONNS INFLIGHT SIZE binary|text (then warm-up, window, echo server PID)
client_args() {
  case $1 in
    client16)  echo "64 16 16 text" ;;
    client1k)  echo "64 16 1024 binary" ;;
    client64k) echo "16 4 65536 binary" ;;
  esac
}
is_client() { [ -n "$(client_args "$1")" ]; }

ALL_SCENARIOS="echo16 echo1k echo64k deflate16 bcast1000 bcast16k connect idle client16 client1k client64k"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
SERVERS=(sockwave ws ws-nobu)

# a RUN line: to the terminal and the raw file (called in this shell, not a pipeline's subshell,
# so that SRV_PID and the traps stay this shell's)
emit() { printf '%s\n' "$1" | tee -a "$OUT"; }

# one line of stderr (first 200 bytes), for the RUN line
errtext() { [ -s "$1" ] && head -c 200 "$1" | tr '\n"' ' _'; }

# run_server_case SCEN IMPL ROUND: one wsload run against a fresh server; emits the RUN line
run_server_case() {
  local scen=$1 srv=$2 r=$3 args flags warm port log nm res rc line alive errtxt tmo
  args=$(scen_args "$scen")
  flags=$(scen_flags "$scen")
  warm=$(scen_warm "$scen")
  tmo=$WSLOAD_TIMEOUT
  [ "$scen" = idle ] && tmo=$IDLE_TIMEOUT
  port=$(free_port)
  log=$LOGDIR/$scen-$srv-$r.log
  # shellcheck disable=SC2086
  if ! start_server "$srv" "$port" "$log" $flags; then
    emit "RUN scen=$scen server=$srv round=$r port=$port pid=$SRV_PID native_mask=- rc=start_failed RESULT error=server_start_failed"
    stop_server
    return
  fi
  nm=$(grep -o 'native_mask=[0-9]*' "$log" | head -1 | cut -d= -f2)
  [ -n "$nm" ] || nm=-
  sleep 0.3
  # shellcheck disable=SC2086
  [ -z "$warm" ] || timeout -k 5 "$tmo" taskset -c 1 "$WSLOAD" $warm -p "$port" >/dev/null 2>&1
  # shellcheck disable=SC2086
  res=$(timeout -k 5 "$tmo" taskset -c 1 "$WSLOAD" $args -p "$port" -S "$SRV_PID" 2>"$log.wsload.err")
  rc=$?
  line=$(printf '%s\n' "$res" | grep '^RESULT ' | tail -1)
  [ -n "$line" ] || line="RESULT error=no_result"
  alive=1; kill -0 "$SRV_PID" 2>/dev/null || alive=0
  stop_server
  errtxt=$(errtext "$log.wsload.err")
  emit "RUN scen=$scen server=$srv round=$r port=$port flags=${flags:-none} native_mask=$nm rc=$rc srv_alive=$alive $line${errtxt:+ stderr=\"$errtxt\"}"
}

# run_client_case SCEN IMPL ROUND: one client-driver run against a fresh echo server; emits the RUN line
run_client_case() {
  local scen=$1 cli=$2 r=$3 cargs port log eu out rc line info nm mi alive errtxt driver
  cargs=$(client_args "$scen")
  port=$(free_port)
  log=$LOGDIR/$scen-$cli-$r.log
  if ! start_server echo "$port" "$log"; then
    emit "RUN scen=$scen client=$cli round=$r port=$port native_mask=- rc=start_failed RESULT error=echo_server_start_failed"
    stop_server
    return
  fi
  eu=$(grep -o 'unmask=[a-z]*' "$log" | head -1 | cut -d= -f2)
  sleep 0.3
  driver=$HERE/client-ws.mjs
  [ "$cli" = sockwave ] && driver=$HERE/client-sockwave.mjs
  # shellcheck disable=SC2086
  case $cli in
    ws-nobu) out=$(WS_NO_BUFFER_UTIL=1 timeout -k 5 "$CLIENT_TIMEOUT" taskset -c 1 node "$driver" "$port" $cargs "$CLIENT_WARM" "$CLIENT_SECS" "$SRV_PID" 2>"$log.client.err") ;;
    *)       out=$(env -u WS_NO_BUFFER_UTIL timeout -k 5 "$CLIENT_TIMEOUT" taskset -c 1 node "$driver" "$port" $cargs "$CLIENT_WARM" "$CLIENT_SECS" "$SRV_PID" 2>"$log.client.err") ;;
  esac
  rc=$?
  line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
  [ -n "$line" ] || line="RESULT error=no_result"
  info=$(printf '%s\n' "$out" | grep '^INFO ' | tail -1)
  nm=$(printf '%s\n' "$info" | grep -o 'native_mask=[0-9]*' | cut -d= -f2)
  mi=$(printf '%s\n' "$info" | grep -o 'mask_impl=[a-z-]*' | cut -d= -f2)
  alive=1; kill -0 "$SRV_PID" 2>/dev/null || alive=0
  stop_server
  errtxt=$(errtext "$log.client.err")
  emit "RUN scen=$scen client=$cli round=$r port=$port echo_unmask=${eu:--} native_mask=${nm:--} mask_impl=${mi:--} rc=$rc srv_alive=$alive $line${errtxt:+ stderr=\"$errtxt\"}"
}

{
  echo "# sockwave outside benchmark  started=$TS  rounds=$ROUNDS"
  echo "# host=$(uname -n) kernel=$(uname -r) node=$(node -v) cpus=$(nproc) nofile=$(ulimit -n)"
  echo "# sockwave_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo ?) src_dirty_files=$(git -C "$REPO" status --porcelain -- src 2>/dev/null | wc -l) (results are for dist/, not src/)"
  echo "# wsload=$WSLOAD  server pinned: taskset -c 0, wsload pinned: taskset -c 1"
  echo "# client scenarios: bench/outside/client-{sockwave,ws}.mjs pinned taskset -c 1, bench/outside/echo-server.mjs pinned taskset -c 0; ws=$(node -p "require('$REPO/node_modules/ws/package.json').version" 2>/dev/null || echo ?)"
  echo "# scenarios=$SCENARIOS"
} | tee "$OUT"
if [[ " $SCENARIOS " == *" idle "* ]] && [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 100)) ]; then
  echo "# WARNING: ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)): idle needs about $((IDLE_CONNS + 50)) descriptors per side" | tee -a "$OUT"
fi

dist_fp() { find "$REPO/dist" -name '*.js' -type f -print0 | sort -z | xargs -0 cat | md5sum | cut -c1-12; }
DIST0=$(dist_fp)
echo "# dist_fingerprint_start=$DIST0 (md5 of dist/**/*.js)" | tee -a "$OUT"
T0=$(date +%s)
for scen in $SCENARIOS; do
  if is_client "$scen"; then
    echo "== $scen: client driver $(client_args "$scen") warm-up ${CLIENT_WARM}s window ${CLIENT_SECS}s, against echo-server.mjs" >&2
  elif [ -n "$(scen_args "$scen")" ]; then
    echo "== $scen: server $(scen_flags "$scen") / wsload $(scen_args "$scen")" >&2
  else
    echo "unknown scenario $scen" >&2
    continue
  fi
  for ((r = 1; r <= ROUNDS; r++)); do
    # rotate the starting implementation each round so no implementation always goes first
    for ((i = 0; i < 3; i++)); do
      impl=${SERVERS[$(((i + r - 1) % 3))]}
      if is_client "$scen"; then
        run_client_case "$scen" "$impl" "$r"
      else
        run_server_case "$scen" "$impl" "$r"
      fi
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
function f2(str) { return (str == "") ? "-" : sprintf("%.2f", median(str)) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
function isclient(sc) { return sc ~ /^client/ }
function figkey(sc) { return (sc == "connect") ? "conns_per_s" : (sc == "idle") ? "bytes_per_conn" : "msgs_per_s" }
function unit(sc) {
  if (sc == "connect") return "conns/s"
  if (sc == "idle") return "bytes/conn (lower is better)"
  if (sc ~ /^bcast/) return "deliveries/s"
  return "msgs/s"
}
/^RUN / {
  sc = kv($0, "scen"); sv = kv($0, "server"); if (sv == "") sv = kv($0, "client")
  rd = kv($0, "round")
  fig = kv($0, figkey(sc))
  bad = (kv($0, "error") != "" || fig == "" || kv($0, "rc") != "0" || kv($0, "srv_alive") != "1")
  if (sc == "connect") { if (kv($0, "failed") + 0 > 0 || kv($0, "unclean") + 0 > 0 || kv($0, "done") + 0 != kv($0, "k") + 0) bad = 1 }
  else if (sc == "idle") { if (kv($0, "open") == "" || kv($0, "open") + 0 != kv($0, "conns") + 0 || fig + 0 <= 0) bad = 1 }
  else if (kv($0, "errors") + 0 > 0 || kv($0, "proto_errors") + 0 > 0 || kv($0, "lost_conns") + 0 > 0 || kv($0, "unexpected_close") + 0 > 0) bad = 1
  nm = kv($0, "native_mask"); who = isclient(sc) ? " client" : " server"
  # a ws run whose masking is not the variant asked for measures the other variant: dropped
  if (sv == "ws" && nm != "1") { bad = 1; warn = warn "\n- " sc " round " rd ": ws" who " expected native_mask=1, got " nm }
  if (sv == "ws-nobu" && nm != "0") { bad = 1; warn = warn "\n- " sc " round " rd ": ws-nobu" who " expected native_mask=0, got " nm }
  if (isclient(sc) && kv($0, "echo_unmask") != "native" && !(sc in jsnote)) { jsnote[sc] = 1; warn = warn "\n- " sc ": the echo server unmasked in JavaScript (echo_unmask=" kv($0, "echo_unmask") "), so it may bound the figure" }
  if (bad) { nbad[sc "|" sv]++; warn = warn "\n- failed/flagged run: " sc " " sv " round " rd " (" substr($0, index($0, "RESULT")) ")"; next }
  if (sc == "bcast16k" && kv($0, "rsv1_frames") + 0 == 0) warn = warn "\n- bcast16k " sv " round " rd ": no compressed frame received (rsv1_frames=0)"
  add(F, sc "|" sv, fig)
  # CPU in cores over the window. tested: the server (server scenarios) or the client (client
  # scenarios); peer: wsload, or the echo server. -1 or missing: not measured.
  if (isclient(sc)) { s = kv($0, "client_cpu"); g = kv($0, "peer_cpu") } else { s = kv($0, "srv_cpu"); g = kv($0, "gen_cpu") }
  b = kv($0, "sys_busy")
  if (s != "" && s + 0 >= 0) add(SC, sc "|" sv, s)
  if (g != "" && g + 0 >= 0) add(GC, sc, g)
  if (b != "" && b + 0 >= 0 && s != "" && s + 0 >= 0 && g != "" && g + 0 >= 0) { o = b - s - g; add(OT, sc, o); add(OTS, sc "|" sv, o) }
}
END {
  ns = split(order, S, " "); split("sockwave ws ws-nobu", V, " ")
  print "Medians per implementation: the server (echo*, deflate16, bcast*, connect, idle; driven by wsload) or the"
  print "client (client*; against echo-server.mjs). Ratios are sockwave / ws (for idle, lower is better: < 1 means"
  print "sockwave holds less memory per connection)."
  print ""
  print "| scenario | unit | sockwave | ws | ws-nobu | sockwave/ws | sockwave/ws-nobu | runs ok (sw/ws/nobu) | spread (max-min)/median sw/ws/nobu |"
  print "|---|---|---:|---:|---:|---:|---:|---|---|"
  for (i = 1; i <= ns; i++) {
    sc = S[i]
    for (j = 1; j <= 3; j++) {
      k = sc "|" V[j]; med[j] = median(F[k]); cnt[j] = (k in F) ? split(F[k], tmp, " ") : 0
      sp[j] = (med[j] == "" || med[j] == 0) ? "-" : sprintf("%.0f%%", 100 * (mx(F[k]) - mn(F[k])) / med[j])
    }
    printf "| %s | %s | %s | %s | %s | %s | %s | %d/%d/%d | %s/%s/%s |\n", sc, unit(sc), fmt(med[1]), fmt(med[2]), fmt(med[3]),
      ratio(med[1], med[2]), ratio(med[1], med[3]), cnt[1], cnt[2], cnt[3], sp[1], sp[2], sp[3]
  }
  print ""
  print "CPU (cores busy during the measured window, medians). tested = the server (srv_cpu) in server scenarios, the"
  print "client (client_cpu) in client scenarios; peer = wsload (gen_cpu), resp. the echo server (peer_cpu);"
  print "other = sys_busy - tested - peer. idle measures no CPU."
  print ""
  print "| scenario | tested sw | tested ws | tested nobu | peer | other (all runs) | other max | other sw/ws/nobu |"
  print "|---|---:|---:|---:|---:|---:|---:|---|"
  for (i = 1; i <= ns; i++) {
    sc = S[i]
    printf "| %s | %s | %s | %s | %s | %s | %s | %s/%s/%s |\n", sc,
      f2(SC[sc "|sockwave"]), f2(SC[sc "|ws"]), f2(SC[sc "|ws-nobu"]), f2(GC[sc]), f2(OT[sc]),
      (OT[sc] == "") ? "-" : sprintf("%.2f", mx(OT[sc])),
      f2(OTS[sc "|sockwave"]), f2(OTS[sc "|ws"]), f2(OTS[sc "|ws-nobu"])
    if (GC[sc] != "" && median(GC[sc]) >= 0.9) warn = warn "\n- " sc ": the peer (" (isclient(sc) ? "echo server" : "wsload") ") used " sprintf("%.2f", median(GC[sc])) " cores (median): it may bound the figures"
  }
  if (warn != "") { print ""; print "Notes:" warn }
}' "$OUT")

echo
echo "$SUMMARY"
{ echo; printf '# %s\n' "${SUMMARY//$'\n'/$'\n'# }"; } >>"$OUT"
echo
echo "raw lines: $OUT   (server/wsload logs: $LOGDIR)"
