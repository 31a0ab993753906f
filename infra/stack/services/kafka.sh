# Apache Kafka 4.1 as one KRaft process (broker + controller) on 127.0.0.1, run straight from
# Maven Central jars: Apache publishes no distribution tarball there, so infra/maven/kafka/pom.xml
# resolves the broker classpath and we start kafka.Kafka with java ourselves.

KAFKA_HOME="$STACK_DIR/kafka"
KAFKA_CONF_SRC="$KOO_ROOT/infra/kafka"
: "${KAFKA_HEAP_OPTS:=-Xms256m -Xmx1g}"

kafka_install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  # kcat: the command-line client the integration tests and humans use to look at topics.
  command -v kcat >/dev/null || apt_install kcat
  maven_classpath "$KOO_ROOT/infra/maven/kafka/pom.xml" "$KAFKA_HOME/libs"
  kafka_build_msk_iam_validator
}

# The stand-in for MSK's IAM authentication on the IAM listener (infra/kafka/MskIamTokenValidator.java),
# compiled against the broker's own jars into its classpath; again after the jars change.
kafka_build_msk_iam_validator() {
  local src="$KOO_ROOT/infra/kafka/MskIamTokenValidator.java" jar="$KAFKA_HOME/libs/koo-msk-iam-validator.jar"
  [ -f "$jar" ] && [ "$jar" -nt "$src" ] && return 0
  command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
  local classes="$KAFKA_HOME/msk-iam-classes"
  rm -rf "$classes" && mkdir -p "$classes"
  javac -nowarn -cp "$KAFKA_HOME/libs/*" -d "$classes" "$src" >>"$LOG_DIR/kafka-build.log" 2>&1 \
    || { tail -n 20 "$LOG_DIR/kafka-build.log" >&2; die "kafka: could not compile $src"; }
  jar cf "$jar.part" -C "$classes" . && mv "$jar.part" "$jar"
}

# The IAM listener's TLS key pair (self-signed for 127.0.0.1, its certificate in ca.pem for clients'
# NODE_EXTRA_CA_CERTS) and the access keys its validator knows (msk-iam-credentials.properties,
# one generated key; `npm run stack -- msk-iam-key` prints it for a test's AWS_* variables). Made
# once per .stack; nothing of it is a real credential.
kafka_iam_material() {
  local dir="$KAFKA_HOME/iam"
  mkdir -p "$dir" && chmod 700 "$dir"
  [ -s "$dir/keystore.password" ] || head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$dir/keystore.password"
  if [ ! -s "$dir/broker.p12" ]; then
    local pw; pw=$(cat "$dir/keystore.password")
    keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname CN=localhost \
      -ext SAN=dns:localhost,ip:127.0.0.1 -storetype PKCS12 -keystore "$dir/broker.p12.part" \
      -storepass "$pw" -keypass "$pw" >>"$LOG_DIR/kafka-build.log" 2>&1 || die "kafka: keytool failed"
    keytool -exportcert -rfc -alias broker -keystore "$dir/broker.p12.part" -storepass "$pw" \
      -file "$dir/ca.pem" >>"$LOG_DIR/kafka-build.log" 2>&1 || die "kafka: keytool export failed"
    mv "$dir/broker.p12.part" "$dir/broker.p12"
  fi
  if [ ! -s "$dir/msk-iam-credentials.properties" ]; then
    local id secret
    id="AKIALOCAL$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
    secret=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
    printf '%s=%s\n' "$id" "$secret" > "$dir/msk-iam-credentials.properties"
    chmod 600 "$dir/msk-iam-credentials.properties"
  fi
  KAFKA_IAM_DIR=$dir
  KAFKA_IAM_KEYSTORE_PASSWORD=$(cat "$dir/keystore.password")
}

# kafka_msk_iam_key: the IAM listener's access key as AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… lines.
kafka_msk_iam_key() {
  local file="$KAFKA_HOME/iam/msk-iam-credentials.properties"
  [ -s "$file" ] || die "msk-iam-key: start the stack first (npm run stack -- up)"
  IFS='=' read -r id secret < "$file"
  printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nKAFKA_IAM_CA=%s\n' "$id" "$secret" "$KAFKA_HOME/iam/ca.pem"
}

kafka_check() { KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" stack_node "$KAFKA_CONF_SRC/probe.ts"; }

kafka_start() {
  local KAFKA_DATA_DIR="$DATA_DIR/kafka" conf="$KAFKA_HOME/server.properties" cluster_id JVM
  jvm_cmd "$KAFKA_HOME/libs" "$KAFKA_HEAP_OPTS"
  mkdir -p "$KAFKA_DATA_DIR"
  kafka_iam_material
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
  # A restart with data takes leadership of every partition in turn before the coordinators load:
  # over 90 s for the test stack's partitions on a loaded 2-core machine.
  wait_healthy kafka "${KAFKA_START_TIMEOUT_S:-300}" kafka_check
}

# kafka_scram_user NAME: adds (or resets) SCRAM-SHA-256 and -512 credentials of NAME on the local
# broker's SASL listener (127.0.0.1:$KAFKA_SASL_PORT), password from KAFKA_SASL_PASSWORD. It is on
# the tool's command line for the second it runs: Kafka 4.1's --add-config-file rejects SCRAM
# entries, and this is the local stack's test broker, not a place for real secrets.
kafka_scram_user() {
  local name=${1:?usage: stack.sh scram-user NAME (password in KAFKA_SASL_PASSWORD)} JVM p
  p=${KAFKA_SASL_PASSWORD:-}
  [ -n "$p" ] || die "scram-user: set KAFKA_SASL_PASSWORD"
  [[ $p =~ ^[A-Za-z0-9._~-]+$ ]] || die "scram-user: the password may hold letters, digits and ._~- only"
  jvm_cmd "$KAFKA_HOME/libs" "-Xmx256m"
  local mechanism
  # One mechanism per request: the broker refuses two changes of one user's credentials at once.
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    "${JVM[@]}" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
      --entity-type users --entity-name "$name" --add-config "$mechanism=[password=$p]" >>"$LOG_DIR/kafka-admin.log" 2>&1 \
      || { tail -n 20 "$LOG_DIR/kafka-admin.log" >&2; die "scram-user: could not add $mechanism credentials of $name"; }
  done
  log "kafka: SCRAM user $name on 127.0.0.1:$KAFKA_SASL_PORT"
}

# A clean shutdown flushes logs and writes the recovery checkpoint (else the next start runs log
# recovery); give it longer than the default grace before SIGKILL.
kafka_stop() { stop_pid kafka 60; }
