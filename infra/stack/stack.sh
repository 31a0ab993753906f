#!/usr/bin/env bash
# The local stack: real services on loopback, installed into .stack/ (git-ignored) on first use.
#   npm run stack -- up [SERVICE...]     install what is missing, start, wait until healthy, provision
#   npm run stack -- down [SERVICE...]   stop exactly the processes `up` started (pid files)
#   npm run stack -- status              one line per service
#   npm run stack -- logs [SERVICE]      tail the logs
#   npm run stack -- scram-user NAME     a SCRAM user on Kafka's SASL listener (KAFKA_SASL_PASSWORD)
#   npm run stack -- msk-iam-key         the access key Kafka's IAM listener (9098) accepts, and its CA
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Start order: Kafka Connect needs the broker, PostgreSQL and the topics; provisioning needs the
# broker, the registry and the DynamoDB/S3 servers.
SERVICES=(postgres redis dynamodb s3 kafka registry connect)
for s in "${SERVICES[@]}"; do source "$(dirname "${BASH_SOURCE[0]}")/services/$s.sh"; done

[ -d "$KOO_ROOT/node_modules" ] || die "run 'source infra/bootstrap.sh' first (node and npm dependencies)"

provision() {
  log "provisioning topics, schemas, tables and bucket"
  (cd "$KOO_ROOT" && node infra/provision.ts) || die "provisioning failed"
}

up() {
  local wanted=("$@") all=0
  [ ${#wanted[@]} -eq 0 ] && { wanted=("${SERVICES[@]}"); all=1; }
  local started=$SECONDS s
  for s in "${wanted[@]}"; do "${s}_install"; done
  for s in "${wanted[@]}"; do
    [ $all = 1 ] && [ "$s" = connect ] && provision
    if "${s}_check" >/dev/null 2>&1; then log "$s already healthy"; else "${s}_start"; fi
  done
  log "up in $((SECONDS - started))s"
}

down() {
  local wanted=("$@"); [ ${#wanted[@]} -eq 0 ] && wanted=("${SERVICES[@]}")
  local i
  for ((i=${#wanted[@]}-1; i>=0; i--)); do
    s=${wanted[$i]}
    if declare -F "${s}_stop" >/dev/null; then "${s}_stop"; else stop_pid "$s"; fi
  done
}

status() {
  for s in "${SERVICES[@]}"; do
    local state="stopped"
    is_running "$s" && state="running (pid $(cat "$(pidfile "$s")"))"
    "${s}_check" >/dev/null 2>&1 && state="$state, healthy" || state="$state, not healthy"
    printf '%-10s %s\n' "$s" "$state"
  done
}

logs() {
  if [ $# -gt 0 ]; then tail -n 100 -f "$LOG_DIR/$1.log"; else tail -n 20 "$LOG_DIR"/*.log; fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down "$@" ;;
  status) status ;;
  logs) logs "$@" ;;
  scram-user) kafka_scram_user "$@" ;;
  msk-iam-key) kafka_msk_iam_key ;;
  *) echo "usage: npm run stack -- up|down|status|logs [SERVICE...] | scram-user NAME | msk-iam-key  (services: ${SERVICES[*]})" >&2; exit 2 ;;
esac
