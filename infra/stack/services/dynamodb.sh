# DynamoDB API on 127.0.0.1:$DYNAMODB_PORT: Dynoxide (the crate dynoxide-rs, MIT OR Apache-2.0), a
# DynamoDB-compatible server in Rust on SQLite. Built once from the crate registry with the
# machine's cargo into .stack/dynoxide (about 8 minutes on two cores; later runs reuse the binary)
# and started with its database in .stack/data/dynamodb.sqlite, so the views survive a stack
# restart just as Kafka's committed offsets do (moto kept them in memory: a restart left offsets
# committed for views that were gone).

DYNOXIDE_VERSION=3.2.0
# The HTTP server alone: the MCP server and the import tool are not used (and take longer to build).
DYNOXIDE_FEATURES=native-sqlite,http-server,cli
DYNOXIDE_ROOT="$STACK_DIR/dynoxide"
DYNOXIDE_BIN="$DYNOXIDE_ROOT/bin/dynoxide"
DYNOXIDE_DB="$DATA_DIR/dynamodb.sqlite"

dynamodb_install() {
  local stamp="$DYNOXIDE_ROOT/.version" want="$DYNOXIDE_VERSION $DYNOXIDE_FEATURES"
  [ -x "$DYNOXIDE_BIN" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  local cargo; cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
  [ -x "$cargo" ] || die "dynamodb: Dynoxide is built with cargo (Rust >= 1.88), which is not on PATH"
  log "building Dynoxide $DYNOXIDE_VERSION with cargo into $DYNOXIDE_ROOT (once; about 8 minutes on two cores)"
  "$cargo" install --quiet --locked --force --root "$DYNOXIDE_ROOT" dynoxide-rs --version "$DYNOXIDE_VERSION" \
    --no-default-features --features "$DYNOXIDE_FEATURES" >>"$LOG_DIR/dynamodb-build.log" 2>&1 \
    || { tail -n 30 "$LOG_DIR/dynamodb-build.log" >&2; die "dynamodb: cargo install dynoxide-rs failed; see $LOG_DIR/dynamodb-build.log"; }
  echo "$want" > "$stamp"
}

# dynamodb_check: the server answers a DynamoDB call. Dynoxide, like DynamoDB Local, accepts any
# credentials; the region in the scope is not checked either.
dynamodb_check() {
  curl -fsS -m 3 -X POST "http://127.0.0.1:$DYNAMODB_PORT/" -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Date: 20200101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/ap-south-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0' \
    -d '{}' | grep -q TableNames
}

dynamodb_start() {
  start_bg dynamodb "$DYNOXIDE_BIN" serve --host 127.0.0.1 --port "$DYNAMODB_PORT" --db-path "$DYNOXIDE_DB"
  wait_healthy dynamodb 30 dynamodb_check
}
