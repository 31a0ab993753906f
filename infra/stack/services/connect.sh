# Kafka Connect (distributed mode, one worker, REST on 127.0.0.1) running Debezium's PostgreSQL
# connector, registered as 'koo-postgres' from infra/kafka/koo-postgres.json.

CONNECT_HOME="$STACK_DIR/connect"
CONNECT_URL="http://127.0.0.1:$CONNECT_PORT"
CONNECTOR_NAME=koo-postgres
# Debezium 3.6 is built against Kafka 4.3 but only uses Connect APIs that 4.1 has (checked by the
# connector and its task reaching RUNNING and streaming; see the lead's report).
DEBEZIUM_VERSION=3.6.1.Final
CDC_TOPICS=koo.public.users,koo.public.koos,koo.public.follows,koo.public.debezium_heartbeat,koo.public.debezium_signal,__debezium-heartbeat.koo
: "${CONNECT_HEAP_OPTS:=-Xms256m -Xmx1g}"

connect_install() {
  kafka_install
  maven_classpath "$KOO_ROOT/infra/maven/connect/pom.xml" "$CONNECT_HOME/libs"
  local tgz="$DOWNLOADS/debezium-connector-postgres-$DEBEZIUM_VERSION-plugin.tar.gz"
  local plugins="$CONNECT_HOME/plugins"
  maven_fetch "io.debezium:debezium-connector-postgres:$DEBEZIUM_VERSION:plugin:tar.gz" "$tgz"
  # Unpack once per version: a stale Debezium next to a new one would load whichever Connect finds first.
  if [ "$(cat "$plugins/.debezium-version" 2>/dev/null)" != "$DEBEZIUM_VERSION" ]; then
    rm -rf "$plugins" && mkdir -p "$plugins"
    tar -xzf "$tgz" -C "$plugins" || die "connect: could not unpack $tgz"
    echo "$DEBEZIUM_VERSION" > "$plugins/.debezium-version"
  fi
}

# connector_status: prints "<connector state> <task states...>", e.g. "RUNNING RUNNING".
connector_status() {
  # While the worker starts, the answer may be empty or partial: that is "not yet", not an error.
  curl -fsS --max-time 3 "$CONNECT_URL/connectors/$CONNECTOR_NAME/status" 2>/dev/null | stack_node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try {
        const st = JSON.parse(s);
        console.log([st.connector.state, ...st.tasks.map((t) => t.state)].join(" "));
      } catch {
        process.exit(1);
      }
    });'
}

# Healthy = the worker answers and the connector plus at least one task are RUNNING.
connect_check() {
  local st; st=$(connector_status) || return 1
  [[ $st =~ ^RUNNING( RUNNING)+$ ]]
}

connect_rest_ready() { curl -fsS --max-time 3 "$CONNECT_URL/connectors" >/dev/null; }

# Idempotent: PUT .../config creates the connector or updates it in place (200 or 201). The
# worker answers 409 while it is still joining its group, so this is retried by the caller.
connect_register() {
  local cfg="$CONNECT_HOME/$CONNECTOR_NAME.json" code
  render_template "$KOO_ROOT/infra/kafka/$CONNECTOR_NAME.json" "$cfg"
  code=$(curl -sS --max-time 10 -o "$CONNECT_HOME/register.out" -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/json' --data @"$cfg" "$CONNECT_URL/connectors/$CONNECTOR_NAME/config") || return 1
  [ "$code" = 200 ] || [ "$code" = 201 ]
}

connect_start() {
  local CONNECT_PLUGIN_DIR="$CONNECT_HOME/plugins" CONNECT_PLUGIN_DISCOVERY=service_load JVM
  local conf="$CONNECT_HOME/connect-distributed.properties"

  # The broker has auto-create off: without the CDC topics Debezium's writes would block and fail.
  local rc=0
  KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" PROBE_TOPICS="$CDC_TOPICS" stack_node "$KOO_ROOT/infra/kafka/probe.ts" || rc=$?
  [ $rc -eq 1 ] && die "connect needs the Kafka broker on 127.0.0.1:$KAFKA_PORT; run 'npm run stack -- up kafka'"
  [ $rc -eq 2 ] && die "connect needs the topics $CDC_TOPICS; run 'npm run provision' (or 'npm run stack -- up')"

  render_template "$KOO_ROOT/infra/kafka/connect-distributed.properties" "$conf"
  jvm_cmd "$CONNECT_HOME/libs" "$CONNECT_HEAP_OPTS"
  start_bg connect "${JVM[@]}" org.apache.kafka.connect.cli.ConnectDistributed "$conf"
  wait_healthy connect 120 connect_rest_ready
  wait_healthy connect 60 connect_register

  # Not wait_healthy: a FAILED task will not recover by waiting. A worker that was already running
  # may hold a task that failed while the broker was away (e.g. `up kafka` after an outage): it is
  # restarted once; a second failure is reported with its trace, the useful error.
  local deadline=$((SECONDS + 120)) st restarted=0
  until connect_check; do
    st=$(connector_status 2>/dev/null || echo "unknown")
    if [[ $st == *FAILED* ]] && [ $restarted = 0 ]; then
      log "connect: connector $CONNECTOR_NAME is '$st'; restarting its failed parts"
      curl -fsS --max-time 10 -X POST "$CONNECT_URL/connectors/$CONNECTOR_NAME/restart?includeTasks=true&onlyFailed=true" >/dev/null || true
      restarted=1
    elif [[ $st == *FAILED* ]] || [ $SECONDS -ge $deadline ]; then
      curl -sS "$CONNECT_URL/connectors/$CONNECTOR_NAME/status" | stack_node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
          const st = JSON.parse(s);
          for (const x of [st.connector, ...st.tasks]) console.error(`${x.id ?? "connector"}: ${x.state}${x.trace ? "\n" + x.trace : ""}`);
        });' >&2 || true
      die "connect: connector $CONNECTOR_NAME is '$st', not RUNNING; see $LOG_DIR/connect.log"
    fi
    sleep 0.5
  done
  log "connect: connector $CONNECTOR_NAME RUNNING"
}

# Stopping the worker stops the task and flushes its source offsets (the confirmed LSN); allow
# more than the default grace so a restart does not replay from an older LSN.
connect_stop() { stop_pid connect 40; }
