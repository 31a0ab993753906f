# Apache Kafka 4.1 as one KRaft process (broker + controller) on 127.0.0.1, run straight from
# Maven Central jars: Apache publishes no distribution tarball there, so infra/maven/kafka/pom.xml
# resolves the broker classpath and we start kafka.Kafka with java ourselves.

KAFKA_HOME="$STACK_DIR/kafka"
KAFKA_CONF_SRC="$KOO_ROOT/infra/kafka"
: "${KAFKA_HEAP_OPTS:=-Xms256m -Xmx1g}"

# stack_node: the project's Node (bootstrap.sh installs it into .stack when the machine's is old).
# kafkajs 2.2.4 trips Node >= 23's TimeoutNegativeWarning (a harmless setTimeout(-n) in its request
# queue); silence that one warning so probe output stays clean.
stack_node() {
  local bin=node; [ -x "$STACK_DIR/node/bin/node" ] && bin="$STACK_DIR/node/bin/node"
  "$bin" --disable-warning=TimeoutNegativeWarning "$@"
}

# maven_classpath POM DEST: copies POM's runtime dependencies into DEST once. The pom's hash is
# recorded next to the jars, so editing a version in the pom re-resolves instead of mixing jars.
maven_classpath() {
  local pom=$1 dest=$2 hash
  hash=$(sha256sum "$pom" | cut -d' ' -f1)
  [ -f "$dest/.pom.sha256" ] && [ "$(cat "$dest/.pom.sha256")" = "$hash" ] && return 0
  log "resolving $(basename "$(dirname "$pom")") classpath from Maven Central"
  rm -rf "$dest" "$dest.part"
  # Maven 3.8 prints stray colour-reset codes even with -q, so its output goes to a log.
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest.part" \
    >"$LOG_DIR/maven.log" 2>&1 || { tail -n 30 "$LOG_DIR/maven.log" >&2; die "maven could not resolve $pom"; }
  echo "$hash" > "$dest.part/.pom.sha256"
  mv "$dest.part" "$dest"
}

# render_template SRC DEST: replaces @NAME@ with the value of the shell variable NAME.
render_template() {
  local src=$1 dest=$2 line name
  local out=""
  while IFS= read -r line || [ -n "$line" ]; do
    while [[ $line =~ @([A-Z_]+)@ ]]; do
      name=${BASH_REMATCH[1]}
      [ -n "${!name+x}" ] || die "template $src uses @$name@, which is not set"
      line=${line//@$name@/${!name}}
    done
    out+="$line"$'\n'
  done < "$src"
  printf '%s' "$out" > "$dest"
}

# jvm_cmd LIBDIR HEAP_OPTS: sets the array JVM to a java command line over LIBDIR's jars, logging
# through the shared log4j2 config (stdout, which start_bg sends to the service log).
jvm_cmd() {
  local libs=$1 heap=$2
  # shellcheck disable=SC2206 # the heap options are several flags on purpose
  JVM=(java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_CONF_SRC/log4j2.properties" -cp "$libs/*")
}

kafka_install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  # kcat: the command-line client the integration tests and humans use to look at topics.
  command -v kcat >/dev/null || apt_install kcat
  maven_classpath "$KOO_ROOT/infra/maven/kafka/pom.xml" "$KAFKA_HOME/libs"
}

kafka_check() { KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" stack_node "$KAFKA_CONF_SRC/probe.ts"; }

kafka_start() {
  local KAFKA_DATA_DIR="$DATA_DIR/kafka" conf="$KAFKA_HOME/server.properties" cluster_id JVM
  jvm_cmd "$KAFKA_HOME/libs" "$KAFKA_HEAP_OPTS"
  mkdir -p "$KAFKA_DATA_DIR"
  render_template "$KAFKA_CONF_SRC/server.properties" "$conf"

  # The cluster id is stamped into the log dir at format time, so it is generated once and kept;
  # a fresh .stack/data (e.g. after `rm -rf .stack/data`) is formatted again with the same id.
  if [ ! -s "$KAFKA_HOME/cluster-id" ]; then
    "${JVM[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | grep -E '^[A-Za-z0-9_-]{22}$' > "$KAFKA_HOME/cluster-id.part" \
      || die "kafka: could not generate a cluster id"
    mv "$KAFKA_HOME/cluster-id.part" "$KAFKA_HOME/cluster-id"
  fi
  cluster_id=$(cat "$KAFKA_HOME/cluster-id")
  if [ ! -f "$KAFKA_DATA_DIR/meta.properties" ]; then
    log "formatting Kafka storage in $KAFKA_DATA_DIR (cluster $cluster_id)"
    "${JVM[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$conf" --ignore-formatted \
      >>"$LOG_DIR/kafka.log" 2>&1 || die "kafka: formatting storage failed; see $LOG_DIR/kafka.log"
  fi

  start_bg kafka "${JVM[@]}" kafka.Kafka "$conf"
  wait_healthy kafka 90 kafka_check
}

# A clean shutdown flushes logs and writes the recovery checkpoint (else the next start runs log
# recovery); give it longer than the default grace before SIGKILL.
kafka_stop() { stop_pid kafka 60; }
