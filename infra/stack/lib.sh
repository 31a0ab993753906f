# Shared helpers for the stack command: paths, downloads, background processes tracked by pid
# files, and health waits whose error names the service. Sourced by stack.sh and services/*.sh.

KOO_ROOT="${KOO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
STACK_DIR="${KOO_STACK_DIR:-$KOO_ROOT/.stack}"
DOWNLOADS="$STACK_DIR/downloads"
RUN_DIR="$STACK_DIR/run"
LOG_DIR="$STACK_DIR/logs"
DATA_DIR="$STACK_DIR/data"
mkdir -p "$DOWNLOADS" "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
# runuser, useradd and initdb's helpers live in the sbin folders, which a user's PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

# Ports and endpoints: the single place the local stack's addresses are set (docker-compose.yml
# and infra/env.example mirror them; keep the three in step).
: "${KAFKA_PORT:=9092}" "${KAFKA_CONTROLLER_PORT:=9093}" "${KAFKA_SASL_PORT:=9096}" "${KAFKA_IAM_PORT:=9098}" "${CONNECT_PORT:=8083}" "${REGISTRY_PORT:=8081}"
: "${DYNAMODB_PORT:=8000}" "${S3_PORT:=9000}" "${REDIS_PORT:=6379}" "${PG_PORT:=5432}"
: "${PG_USER:=koo}" "${PG_DB:=koo}" "${PG_CATALOG_DB:=koo_lake_catalog}"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG... : installs Debian packages that are missing (root on these machines).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

pidfile() { echo "$RUN_DIR/$1.pid"; }

# is_running NAME: the process `up` started for NAME is alive.
is_running() {
  local f; f=$(pidfile "$1")
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start_bg NAME CMD...: starts CMD detached in its own session, output to the service log, and
# records its pid, so `down` can stop exactly this process group and nothing else.
start_bg() {
  local name=$1; shift
  if is_running "$name"; then log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  log "starting $name"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
}

# stop_pid NAME [SECONDS]: SIGTERM to the recorded process group, SIGKILL after a grace period.
stop_pid() {
  local name=$1 grace=${2:-20} f pid
  f=$(pidfile "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within ${grace}s; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

# wait_healthy NAME SECONDS CHECK...: polls CHECK until it succeeds; the error names the service,
# the timeout and its log.
wait_healthy() {
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$(pidfile "$name")" ] && ! is_running "$name"; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited during start-up; see $LOG_DIR/$name.log"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name was not healthy within ${timeout}s; see $LOG_DIR/$name.log"
    fi
    sleep 0.5
  done
  log "$name healthy"
}

# fetch URL DEST: downloads once into the cache.
fetch() {
  local url=$1 dest=$2
  [ -s "$dest" ] && return 0
  log "downloading $(basename "$dest")"
  curl -fsSL --retry 3 -o "$dest.part" "$url" || die "download failed: $url"
  mv "$dest.part" "$dest"
}

# maven_fetch GROUP:ARTIFACT:VERSION[:CLASSIFIER[:EXT]] DEST: one artifact from Maven Central via
# the machine's Maven (which knows the registry and any mirror), cached in DOWNLOADS.
maven_fetch() {
  local coords=$1 dest=$2
  [ -s "$dest" ] && return 0
  IFS=: read -r g a v c e <<<"$coords"
  e=${e:-jar}
  command -v mvn >/dev/null || apt_install maven
  log "fetching $coords from Maven Central"
  mvn -q -B dependency:copy -Dartifact="$g:$a:$v:$e${c:+:$c}" -DoutputDirectory="$(dirname "$dest").mvn" \
    -Dmdep.useBaseVersion=true >>"$LOG_DIR/maven.log" 2>&1 \
    || { tail -n 30 "$LOG_DIR/maven.log" >&2; die "maven could not fetch $coords"; }
  mv "$(dirname "$dest").mvn/$a-$v${c:+-$c}.$e" "$dest"
  rmdir "$(dirname "$dest").mvn" 2>/dev/null || true
}

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
  command -v mvn >/dev/null || apt_install maven
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
    -Dlog4j2.configurationFile="$KOO_ROOT/infra/kafka/log4j2.properties" -cp "$libs/*")
}

# python_venv_install NAME DIR REQUIREMENTS: a venv in DIR with the pinned requirements;
# reinstalled when the requirements file changes.
python_venv_install() {
  local name=$1 dir=$2 requirements=$3 stamp want
  stamp="$dir/.requirements.sha256"
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "installing $name into $dir"
  [ -x "$dir/bin/pip" ] || python3 -m venv "$dir" || die "$name: python3 -m venv $dir failed"
  "$dir/bin/pip" install -q -r "$requirements" || die "$name: pip install -r $requirements failed"
  echo "$want" > "$stamp"
}
