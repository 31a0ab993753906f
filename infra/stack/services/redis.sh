# Redis from Debian's redis-server with an append-only file fsynced every second: delayed
# notification jobs, retries in backoff and held digests live only here, and their source
# offsets are committed (README, "Durability of Redis").

redis_install() { command -v redis-server >/dev/null || apt_install redis-server; }

redis_check() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }

redis_start() {
  mkdir -p "$DATA_DIR/redis"
  start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA_DIR/redis" \
    --save '' --appendonly yes --appendfsync everysec --daemonize no --maxmemory-policy noeviction
  wait_healthy redis 20 redis_check
}
