# PostgreSQL from Debian's packages, its own cluster in .stack/data/postgres, wal_level=logical
# for Debezium's pgoutput plugin, and the source schema from infra/sql.

pg_bin() {
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

postgres_install() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  command -v psql >/dev/null || apt_install postgresql-client
}

postgres_check() {
  pg_isready -h 127.0.0.1 -p "$PG_PORT" -q && \
    psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -tAc 'select 1 from koos limit 1' >/dev/null
}

# postgres_data_dir: where the cluster lives, printed. Normally .stack/data/postgres. Run as root,
# the server runs as the 'postgres' user, who must reach that folder: a checkout under a private
# directory (root's home, any mktemp -d) is not reachable, and opening up the user's own parents
# is not ours to do. Then the cluster lives in /var/tmp/koo-stack-<hash of .stack>/ (sticky,
# world-traversable) and .stack/data/postgres is a symlink to it.
postgres_data_dir() {
  local data="$DATA_DIR/postgres"
  if [ -L "$data" ] || [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$DATA_DIR" 2>/dev/null; then
    echo "$data"; return 0
  fi
  echo "/var/tmp/koo-stack-$(printf '%s' "$STACK_DIR" | sha256sum | cut -c1-12)/postgres"
}

postgres_start() {
  local bin data runas=()
  bin=$(pg_bin)
  # PostgreSQL refuses to run as root: run it as the 'postgres' system user where we are root.
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runas=(runuser -u postgres --)
    chmod 755 "$STACK_DIR" "$DATA_DIR"
  fi
  data=$(postgres_data_dir)
  if [ "$data" != "$DATA_DIR/postgres" ]; then
    log "postgres cannot reach $DATA_DIR (a private parent directory): its cluster lives in $data"
    mkdir -p "$data" && chmod 711 "$(dirname "$data")" && ln -sfn "$data" "$DATA_DIR/postgres"
  fi
  data=$(readlink -f "$DATA_DIR/postgres" 2>/dev/null || echo "$DATA_DIR/postgres")
  mkdir -p "$data"
  [ ${#runas[@]} -eq 0 ] || chown -R postgres "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $data"
    "${runas[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >>"$LOG_DIR/postgres.log" 2>&1 \
      || die "postgres initdb failed; see $LOG_DIR/postgres.log"
  fi
  rm -f "$(pidfile postgres)"
  start_bg postgres "${runas[@]}" "$bin/postgres" -D "$data" -h 127.0.0.1 -p "$PG_PORT" -k /tmp \
    -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 -c fsync=off
  wait_healthy postgres 60 pg_isready -h 127.0.0.1 -p "$PG_PORT" -q
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_roles where rolname='$PG_USER'" | grep -q 1 \
    || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "create role $PG_USER login replication superuser" \
    || die "postgres: could not create role $PG_USER"
  # The source database, and the lake's Iceberg catalog apart from it (Debezium reads the first).
  local db
  for db in "$PG_DB" "$PG_CATALOG_DB"; do
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "create database $db owner $PG_USER" \
      || die "postgres: could not create database $db"
  done
  psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -f "$KOO_ROOT/infra/sql/schema.sql" \
    >>"$LOG_DIR/postgres.log" 2>&1 || die "postgres: applying infra/sql/schema.sql failed; see $LOG_DIR/postgres.log"
  wait_healthy postgres 10 postgres_check
}
