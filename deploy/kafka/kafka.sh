#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for postwatch
# development and CI. Jars come from Maven Central via ./pom.xml; nothing else is
# downloaded. See `kafka.sh --help`.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"

KAFKA_HOME_DIR="${POSTWATCH_KAFKA_HOME:-$HOME/.cache/postwatch/kafka}"
PORT="${POSTWATCH_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${POSTWATCH_KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${POSTWATCH_KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${POSTWATCH_KAFKA_STOP_TIMEOUT:-60}"
HEAP_OPTS="${POSTWATCH_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"

LIB="${POSTWATCH_KAFKA_LIB:-$KAFKA_HOME_DIR/lib}"
LIB_MARKER="$LIB/.complete"
DATA="$KAFKA_HOME_DIR/data"
LOGS="$KAFKA_HOME_DIR/logs"
SERVER_LOG="$LOGS/server.log"
CONSOLE_LOG="$LOGS/kafka.out"
PROPS="$KAFKA_HOME_DIR/server.properties"
LOG4J="$KAFKA_HOME_DIR/log4j.properties"
TOOLS_LOG4J="$KAFKA_HOME_DIR/tools-log4j.properties"
CLUSTER_ID_FILE="$KAFKA_HOME_DIR/cluster.id"
PID_FILE="$KAFKA_HOME_DIR/kafka.pid"
LOCK_FILE="$KAFKA_HOME_DIR/kafka.lock"

# kafka.admin.BrokerApiVersionsCommand lives in kafka_2.13 in 3.9.x (it moved
# to org.apache.kafka.tools in 4.0). It sends METADATA + API_VERSIONS requests,
# so success means the broker really serves clients.
PROBE_CLASS="kafka.admin.BrokerApiVersionsCommand"

usage() {
    cat <<EOF
Usage: $(basename "$0") start|stop|status|--help

Runs a local single-node Apache Kafka broker (KRaft mode, broker+controller in
one JVM) on 127.0.0.1 for postwatch.

  start    fetch the Kafka jars from Maven Central once (needs mvn), format the
           storage once, start the broker in the background and wait until it
           answers. Does nothing if it is already running and answering.
  stop     stop the broker (SIGTERM, SIGKILL after POSTWATCH_KAFKA_STOP_TIMEOUT s).
  status   exit 0 if the broker is running and answering, non-zero otherwise.

Environment:
  POSTWATCH_KAFKA_HOME              state dir: jars, config, data, logs
                                    (default: \$HOME/.cache/postwatch/kafka)
  POSTWATCH_KAFKA_LIB               jar directory, shareable between brokers
                                    (default: \$POSTWATCH_KAFKA_HOME/lib)
  POSTWATCH_KAFKA_PORT              client (PLAINTEXT) port      (default 9092)
  POSTWATCH_KAFKA_EXTRA_PROPERTIES  file appended to server.properties (e.g. TLS
                                    and SASL listeners); its keys win
  POSTWATCH_KAFKA_CONTROLLER_PORT   KRaft controller port        (default 9093)
  POSTWATCH_KAFKA_START_TIMEOUT     seconds to wait for start    (default 120)
  POSTWATCH_KAFKA_STOP_TIMEOUT      seconds to wait for stop     (default 60)
  POSTWATCH_KAFKA_HEAP_OPTS         JVM heap options (default "-Xms256m -Xmx1g")

Bootstrap servers for clients: 127.0.0.1:\$POSTWATCH_KAFKA_PORT
Broker log: \$POSTWATCH_KAFKA_HOME/logs/server.log
To use an existing cluster instead, set POSTWATCH_KAFKA_BOOTSTRAP and skip this script.
EOF
}

log() { printf 'kafka.sh: %s\n' "$*"; }
err() { printf 'kafka.sh: %s\n' "$*" >&2; }

now_ms() { date +%s%3N; }

elapsed() { # $1 = start ms -> "12.3s"
    local ms=$(($(now_ms) - $1))
    printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

need_java() {
    if ! command -v java >/dev/null 2>&1; then
        err "java not found. Install a Java runtime (17+), e.g.: apt-get install -y openjdk-17-jre-headless"
        err "or point POSTWATCH_KAFKA_BOOTSTRAP at an existing Kafka cluster instead of running one locally."
        exit 1
    fi
}

need_mvn() {
    if ! command -v mvn >/dev/null 2>&1; then
        err "mvn not found; it is needed once to fetch the Kafka jars from Maven Central."
        err "Install it, e.g.: apt-get install -y maven openjdk-17-jdk-headless"
        err "or point POSTWATCH_KAFKA_BOOTSTRAP at an existing Kafka cluster instead of running one locally."
        exit 1
    fi
}

check_ports() {
    local p
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
            err "invalid port: '$p'"
            exit 2
        fi
    done
    if [[ "$PORT" == "$CONTROLLER_PORT" ]]; then
        err "POSTWATCH_KAFKA_PORT and POSTWATCH_KAFKA_CONTROLLER_PORT must differ (both $PORT)"
        exit 2
    fi
}

port_open() { # something listens on 127.0.0.1:$1
    timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# PID of the broker started by this script, if it is still alive (and the PID
# was not reused by another process). Empty output otherwise.
broker_pid() {
    local pid cmdline
    [[ -f "$PID_FILE" ]] || return 0
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 0
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    if [[ "$cmdline" == *"kafka.Kafka $PROPS"* ]]; then
        echo "$pid"
    fi
}

# One real Kafka round trip (METADATA + API_VERSIONS) against the client port.
answering() {
    local out
    port_open "$PORT" || return 1
    out="$(timeout 30 java -cp "$LIB/*" -Dlog4j.configuration="file:$TOOLS_LOG4J" \
        "$PROBE_CLASS" --bootstrap-server "127.0.0.1:$PORT" 2>/dev/null)" || return 1
    [[ "$out" == *"(id: 1 rack"* ]]
}

fetch_jars() {
    local want
    want="$(sha256sum "$POM" | cut -d' ' -f1)"
    if [[ -f "$LIB_MARKER" && "$(cat "$LIB_MARKER")" == "$want" ]]; then
        return 0
    fi
    need_mvn
    local t0
    t0="$(now_ms)"
    log "fetching Kafka jars from Maven Central into $LIB ..."
    rm -rf "$LIB"
    mkdir -p "$LIB" "$LOGS"
    # Output goes to a file (mvn -q still prints stray ANSI codes); shown on failure.
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$LIB" -DincludeScope=runtime >"$LOGS/mvn.log" 2>&1; then
        err "mvn failed to fetch the Kafka jars. Last lines of $LOGS/mvn.log:"
        tail -n 40 "$LOGS/mvn.log" >&2
        exit 1
    fi
    echo "$want" >"$LIB_MARKER"
    log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars in $(elapsed "$t0")"
}

write_config() {
    mkdir -p "$DATA" "$LOGS"
    cat >"$PROPS" <<EOF
# Generated by deploy/kafka/kafka.sh on every start; edits are overwritten.
# Single node, KRaft mode, broker and controller in one process.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA

# Everything replicated once: there is only one broker.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

# Small internal topics: faster first consumer group / transaction on 2 cores.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4

# Consumer groups form at once instead of after the default 3 s delay.
group.initial.rebalance.delay.ms=0

num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true

# Sized for a small machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432

log.retention.hours=168
log.segment.bytes=268435456
log.retention.check.interval.ms=300000
EOF
    if [[ -n "${POSTWATCH_KAFKA_EXTRA_PROPERTIES:-}" ]]; then
        # appended last: a key given there wins over the same key above
        {
            echo
            echo "# From $POSTWATCH_KAFKA_EXTRA_PROPERTIES"
            cat "$POSTWATCH_KAFKA_EXTRA_PROPERTIES"
        } >>"$PROPS"
    fi

    cat >"$LOG4J" <<EOF
# Generated by deploy/kafka/kafka.sh: all broker logging goes to $SERVER_LOG
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$SERVER_LOG
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.org.apache.zookeeper=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=INFO
EOF

    cat >"$TOOLS_LOG4J" <<'EOF'
# Generated by deploy/kafka/kafka.sh: for the readiness probe / CLI tools.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

format_storage() {
    if [[ -f "$DATA/meta.properties" ]]; then
        return 0
    fi
    if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
        java -cp "$LIB/*" -Dlog4j.configuration="file:$TOOLS_LOG4J" \
            kafka.tools.StorageTool random-uuid | tail -n 1 | tr -d '[:space:]' >"$CLUSTER_ID_FILE.tmp"
        mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
    fi
    log "formatting storage in $DATA (cluster id $(cat "$CLUSTER_ID_FILE"))"
    java -cp "$LIB/*" -Dlog4j.configuration="file:$TOOLS_LOG4J" \
        kafka.tools.StorageTool format -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" >/dev/null
}

kill_broker() { # $1 = pid; SIGTERM, then SIGKILL after STOP_TIMEOUT
    local pid="$1" waited=0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= STOP_TIMEOUT * 2)); then
            err "broker (pid $pid) did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    rm -f "$PID_FILE"
}

wait_ready() { # $1 = pid, $2 = start ms
    local pid="$1" t0="$2" deadline
    deadline=$(($(date +%s) + START_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            err "broker process exited during start-up. Last lines of $SERVER_LOG:"
            tail -n 40 "$SERVER_LOG" >&2 2>/dev/null || true
            tail -n 20 "$CONSOLE_LOG" >&2 2>/dev/null || true
            exit 1
        fi
        if answering; then
            log "broker ready on 127.0.0.1:$PORT (pid $pid) after $(elapsed "$t0")"
            return 0
        fi
        if (($(date +%s) >= deadline)); then
            err "broker did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s. Last lines of $SERVER_LOG:"
            tail -n 40 "$SERVER_LOG" >&2 2>/dev/null || true
            tail -n 20 "$CONSOLE_LOG" >&2 2>/dev/null || true
            err "stopping it"
            kill_broker "$pid"
            exit 1
        fi
        sleep 1
    done
}

lock() {
    mkdir -p "$KAFKA_HOME_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$LOCK_FILE"
        flock -w $((START_TIMEOUT + STOP_TIMEOUT + 600)) 9 || {
            err "could not lock $LOCK_FILE"
            exit 1
        }
    fi
}

cmd_start() {
    local t0 pid
    t0="$(now_ms)"
    check_ports
    need_java
    lock

    pid="$(broker_pid)"
    if [[ -n "$pid" ]]; then
        if answering; then
            log "already running and answering on 127.0.0.1:$PORT (pid $pid)"
            return 0
        fi
        log "broker process $pid is running but not answering yet; waiting"
        wait_ready "$pid" "$t0"
        return 0
    fi
    rm -f "$PID_FILE"

    local p
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$p"; then
            err "port 127.0.0.1:$p is already in use by another process (not started by this script)."
            err "Stop it, choose other ports (POSTWATCH_KAFKA_PORT / POSTWATCH_KAFKA_CONTROLLER_PORT),"
            err "or point POSTWATCH_KAFKA_BOOTSTRAP at an existing cluster."
            exit 1
        fi
    done

    fetch_jars
    write_config
    format_storage

    log "starting broker (log: $SERVER_LOG)"
    # shellcheck disable=SC2086  # HEAP_OPTS is a list of JVM options
    # fd 9 (the lock) is closed for the broker, or it would hold the lock forever.
    nohup setsid java $HEAP_OPTS \
        -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$LOG4J" -Dkafka.logs.dir="$LOGS" \
        -cp "$LIB/*" kafka.Kafka "$PROPS" >>"$CONSOLE_LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_ready "$pid" "$t0"
}

cmd_stop() {
    local pid
    lock
    pid="$(broker_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    local t0
    t0="$(now_ms)"
    log "stopping broker (pid $pid)"
    kill_broker "$pid"
    log "stopped after $(elapsed "$t0")"
}

cmd_status() {
    local pid
    check_ports
    pid="$(broker_pid)"
    if [[ -z "$pid" ]]; then
        log "not running"
        return 3
    fi
    need_java
    if answering; then
        log "running and answering on 127.0.0.1:$PORT (pid $pid)"
        return 0
    fi
    log "running (pid $pid) but not answering on 127.0.0.1:$PORT"
    return 1
}

main() {
    case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    -h | --help | help | "") usage ;;
    *)
        err "unknown command: $1"
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
