# DynamoDB API on 127.0.0.1:$DYNAMODB_PORT: moto's server (GSIs, transactions, conditional writes,
# TTL settings), in memory. See infra/python/moto.sh.
source "$KOO_ROOT/infra/python/moto.sh"

dynamodb_install() { moto_install; }
dynamodb_check() { moto_check "$DYNAMODB_PORT" dynamodb; }
dynamodb_start() { moto_start dynamodb "$DYNAMODB_PORT" dynamodb; }
