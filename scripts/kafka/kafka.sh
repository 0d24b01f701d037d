#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for development
# and CI, without Docker. Follows /work/shared/design/KAFKA-BROKER-NOTES.md.
#
#   kafka.sh start     download jars (first run), format storage (first run), start, wait until ready
#   kafka.sh stop      SIGTERM the broker's pid (SIGKILL after KAFKA_STOP_TIMEOUT s), remove the pid file
#   kafka.sh status    exit 0 if running, 3 if not
#   kafka.sh restart   stop + start (same data dir: this is how tests simulate an outage)
#   kafka.sh reset     stop, then delete the data dir and cluster id (keeps the jars)
#   kafka.sh logs      tail -f the broker log
#
# Environment:
#   KAFKA_HOME             state directory (jars, data, logs, pid); default <repo>/.kafka
#   KAFKA_PORT             client port (default 9092); clients use this one only
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
#   KAFKA_STOP_TIMEOUT     seconds to wait for a clean exit before SIGKILL (default 30)
#   KAFKA_HEAP_OPTS        default "-Xms256m -Xmx768m"
#   KAFKA_JVM_OPTS         extra JVM options
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

KAFKA_HOME=${KAFKA_HOME:-$ROOT/.kafka}
case $KAFKA_HOME in /*) ;; *) KAFKA_HOME=$PWD/$KAFKA_HOME ;; esac
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:-}

POM=$SCRIPT_DIR/pom.xml
TEMPLATE=$SCRIPT_DIR/server.properties.template
LOG4J=$SCRIPT_DIR/log4j.properties
LIB=$KAFKA_HOME/lib
DATA=$KAFKA_HOME/data
LOGS=$KAFKA_HOME/logs
PIDFILE=$KAFKA_HOME/kafka.pid
CLUSTER_ID_FILE=$KAFKA_HOME/cluster-id
PROPS=$KAFKA_HOME/server.properties
POM_STAMP=$LIB/.pom.sha256

if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi

say() { echo "kafka: $*"; }
die() { echo "kafka: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
secs_since() { # start_ms -> "S.s"
  local d=$(( $(now_ms) - $1 ))
  printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100))
}

# KAFKA_HOME is also the conventional name for an Apache Kafka installation; never write into one.
if [[ -e $KAFKA_HOME/bin/kafka-server-start.sh ]]; then
  die "KAFKA_HOME=$KAFKA_HOME looks like a Kafka distribution, not this script's state directory; unset it or point it elsewhere"
fi

init_home() {
  mkdir -p "$KAFKA_HOME" "$LOGS"
  # The directory ignores itself, whatever the repository's .gitignore says.
  [[ -f $KAFKA_HOME/.gitignore ]] || echo '*' > "$KAFKA_HOME/.gitignore"
}

lock() { # serialise concurrent start/stop/reset (e.g. parallel CI steps)
  init_home
  exec 9>"$KAFKA_HOME/.lock"
  flock -w 120 9 || die "could not take the lock $KAFKA_HOME/.lock"
}

# Alive and not a zombie (a zombie's cmdline is empty).
alive() { kill -0 "$1" 2>/dev/null && [[ -n $(tr -d '\0' 2>/dev/null < "/proc/$1/cmdline") ]]; }

# The pid from the pid file if that process is alive and really our broker (guards against pid reuse;
# a zombie has an empty cmdline, so it counts as dead).
broker_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(tr -dc '0-9' < "$PIDFILE")
  [[ -n $pid ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- ' kafka\.Kafka ' || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_port() { # the client port of the running broker, from its rendered properties
  local p
  p=$(sed -n 's#^advertised\.listeners=PLAINTEXT://[^:]*:\([0-9]*\).*#\1#p' "$PROPS" 2>/dev/null || true)
  echo "${p:-$KAFKA_PORT}"
}

kafka_version() {
  local jar
  jar=$(cd "$LIB" 2>/dev/null && ls kafka_2.13-*.jar 2>/dev/null | grep -v -E -- '-(test|sources|javadoc)' | head -n1 || true)
  jar=${jar#kafka_2.13-}
  echo "${jar%.jar}"
}

ensure_jars() {
  local want have=""
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  [[ -f $POM_STAMP ]] && have=$(cat "$POM_STAMP")
  if compgen -G "$LIB/*.jar" >/dev/null && [[ $have == "$want" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn (Maven) is needed once to download the broker jars"
  local t0 tmp
  t0=$(now_ms)
  tmp=$KAFKA_HOME/lib.tmp
  rm -rf "$tmp"
  say "downloading broker jars with Maven (first run; cached in ~/.m2 afterwards) ..."
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" \
      -DincludeScope=runtime > "$LOGS/mvn.log" 2>&1; then
    tail -n 40 "$LOGS/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (full output in $LOGS/mvn.log)"
  fi
  echo "$want" > "$tmp/.pom.sha256"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  say "jars ready in $LIB: $(ls "$LIB"/*.jar | wc -l) files, $(du -sh "$LIB" | cut -f1) (in $(secs_since "$t0") s)"
}

render_props() {
  mkdir -p "$DATA"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
      -e "s#@KAFKA_CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA_DIR@#$DATA#g" "$TEMPLATE" > "$PROPS.tmp"
  mv "$PROPS.tmp" "$PROPS"
}

java_opts() { # common JVM options (printed one per line)
  printf '%s\n' -Djava.awt.headless=true "-Dkafka.logs.dir=$LOGS" "-Dlog4j.configuration=file:$LOG4J"
}

format_storage() {
  if [[ -f $DATA/meta.properties ]]; then return 0; fi
  local cid=''
  if [[ -s $CLUSTER_ID_FILE ]]; then cid=$(cat "$CLUSTER_ID_FILE"); fi
  # 16 random bytes, URL-safe base64 without padding (what kafka-storage random-uuid prints), and,
  # like random-uuid, never starting with "-": the storage tool would take such an id (1 in 64)
  # for an option and refuse to format. A stored id is replaced only here, before any format used it.
  while [[ -z $cid || $cid == -* ]]; do
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  echo "$cid" > "$CLUSTER_ID_FILE"
  say "formatting $DATA (cluster id $cid)"
  local opts=()
  mapfile -t opts < <(java_opts)
  if ! "$JAVA" -Xmx256m "${opts[@]}" -cp "$LIB/*" kafka.tools.StorageTool format -t "$cid" -c "$PROPS" \
      > "$LOGS/format.log" 2>&1; then
    cat "$LOGS/format.log" >&2
    die "formatting the storage failed"
  fi
}

show_log_tail() {
  if [[ -s $LOGS/kafka.out ]]; then
    echo "---- tail of $LOGS/kafka.out (JVM stdout/stderr) ----" >&2
    tail -n 10 "$LOGS/kafka.out" >&2
  fi
  echo "---- tail of $LOGS/server.log (config dumps left out) ----" >&2
  if [[ -f $LOGS/server.log ]]; then
    grep -v -E $'^\t|^ \\(kafka\\.server\\.KafkaConfig\\)$' "$LOGS/server.log" | tail -n 40 >&2 || true
  else
    echo "(no server.log)" >&2
  fi
}

# A metadata round trip with the project's kafkajs: admin.connect() + admin.listTopics().
probe() {
  (cd "$ROOT" && PROBE_ROOT=$ROOT PROBE_BROKER=127.0.0.1:$1 timeout 15 node -e '
    const { Kafka, logLevel } = require(require.resolve("kafkajs", { paths: [process.env.PROBE_ROOT] }));
    const admin = new Kafka({
      clientId: "kafka-sh-probe", brokers: [process.env.PROBE_BROKER], logLevel: logLevel.NOTHING,
      connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 },
    }).admin();
    admin.connect()
      .then(() => admin.listTopics())
      .then(() => admin.disconnect())
      .then(() => process.exit(0), () => process.exit(1));
  ') >/dev/null 2>&1
}

wait_ready() { # pid port t0_ms stop_on_timeout(yes|no)
  local pid=$1 port=$2 t0=$3 stop_on_timeout=$4 deadline
  deadline=$(( t0 + KAFKA_START_TIMEOUT * 1000 ))
  while :; do
    if ! alive "$pid"; then
      echo "kafka: the broker (pid $pid) exited during startup" >&2
      show_log_tail
      rm -f "$PIDFILE"
      exit 1
    fi
    if port_open "$port" && probe "$port"; then
      say "ready on 127.0.0.1:$port (Kafka $(kafka_version), pid $pid) after $(secs_since "$t0") s"
      return 0
    fi
    if (( $(now_ms) > deadline )); then
      echo "kafka: not ready on 127.0.0.1:$port after ${KAFKA_START_TIMEOUT} s (raise KAFKA_START_TIMEOUT?)" >&2
      show_log_tail
      if [[ $stop_on_timeout == yes ]]; then do_stop >&2 || true; fi
      exit 1
    fi
    sleep 0.5
  done
}

do_start() {
  lock
  local t0 pid
  t0=$(now_ms)
  if pid=$(broker_pid); then
    local port
    port=$(running_port)
    say "already running (pid $pid) on 127.0.0.1:$port"
    [[ $port == "$KAFKA_PORT" ]] || say "note: it listens on $port, not KAFKA_PORT=$KAFKA_PORT (restart to change)"
    wait_ready "$pid" "$port" "$t0" no
    return 0
  fi
  rm -f "$PIDFILE"
  command -v "$JAVA" >/dev/null || die "java not found (Java 17 is needed)"
  command -v node >/dev/null || die "node not found (used for the readiness check)"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
  done

  ensure_jars
  render_props
  format_storage

  local opts=() heap=()
  mapfile -t opts < <(java_opts)
  read -r -a heap <<< "$KAFKA_HEAP_OPTS"
  local extra=()
  [[ -n $KAFKA_JVM_OPTS ]] && read -r -a extra <<< "$KAFKA_JVM_OPTS"
  {
    echo
    echo "==== $(date -Is) starting broker ===="
  } >> "$LOGS/kafka.out"
  # Detached in its own session; the child writes its own pid then execs java, so the pid file
  # holds the JVM's pid whether or not setsid had to fork.
  nohup setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' kafka-launch "$PIDFILE" \
    "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError "${extra[@]}" "${opts[@]}" \
    -cp "$LIB/*" kafka.Kafka "$PROPS" \
    >> "$LOGS/kafka.out" 2>&1 < /dev/null 9>&- &
  local i
  for i in $(seq 1 50); do
    pid=$(tr -dc '0-9' 2>/dev/null < "$PIDFILE" || true)
    [[ -n $pid ]] && break
    sleep 0.1
  done
  [[ -n $pid ]] || { show_log_tail; die "the broker did not start (no pid file)"; }
  say "started broker (pid $pid), waiting for 127.0.0.1:$KAFKA_PORT ..."
  wait_ready "$pid" "$KAFKA_PORT" "$t0" yes
}

do_stop() {
  local pid t0 i
  if ! pid=$(broker_pid); then
    rm -f "$PIDFILE"
    say "not running"
    return 0
  fi
  t0=$(now_ms)
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 $((KAFKA_STOP_TIMEOUT * 5))); do
    broker_pid >/dev/null || break
    sleep 0.2
  done
  if broker_pid >/dev/null; then
    echo "kafka: pid $pid did not exit within ${KAFKA_STOP_TIMEOUT} s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 25); do broker_pid >/dev/null || break; sleep 0.2; done
  fi
  rm -f "$PIDFILE"
  say "stopped (pid $pid) after $(secs_since "$t0") s"
}

do_status() {
  local pid port
  if pid=$(broker_pid); then
    port=$(running_port)
    if port_open "$port"; then
      say "running (pid $pid) on 127.0.0.1:$port (Kafka $(kafka_version))"
    else
      say "running (pid $pid), but 127.0.0.1:$port is not accepting connections (starting or stopping?)"
    fi
    return 0
  fi
  say "not running"
  return 3
}

do_reset() {
  do_stop
  rm -rf "$DATA" "$CLUSTER_ID_FILE" "$PROPS"
  say "data and cluster id deleted from $KAFKA_HOME (jars kept)"
}

cmd=${1:-}
case $cmd in
  start) do_start ;;
  stop) lock; do_stop ;;
  status) do_status ;;
  restart) lock; do_stop; exec 9>&-; do_start ;;
  reset) lock; do_reset ;;
  logs) exec tail -n 100 -F "$LOGS/server.log" ;;
  *) echo "usage: $(basename "$0") start|stop|status|restart|reset|logs" >&2; exit 2 ;;
esac
