# Redis from Debian's redis-server, no persistence (the views it backs are rebuilt from snapshots).

redis_install() { command -v redis-server >/dev/null || apt_install redis-server; }

redis_check() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }

redis_start() {
  mkdir -p "$DATA_DIR/redis"
  start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA_DIR/redis" \
    --save '' --appendonly no --daemonize no --maxmemory-policy noeviction
  wait_healthy redis 20 redis_check
}
