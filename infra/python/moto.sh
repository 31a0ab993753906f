# moto's server from PyPI, for the s3 service (sourced by its file); it also answers CloudFormation
# and IAM for the template test. State is in memory: a restart empties the server, and `stack up`
# provisioning recreates the bucket.

MOTO_VENV="$STACK_DIR/venv"
MOTO_REQUIREMENTS="$KOO_ROOT/infra/python/requirements.txt"

moto_install() { python_venv_install moto "$MOTO_VENV" "$MOTO_REQUIREMENTS"; }

# moto_check PORT: the moto server on PORT answers an S3 call. moto accepts any credentials and
# does not verify signatures; the region only selects which in-memory backend answers.
moto_check() {
  curl -fsS -m 3 "http://127.0.0.1:$1/" \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/ap-south-1/s3/aws4_request, SignedHeaders=host, Signature=0' \
    | grep -q ListAllMyBucketsResult
}

# moto_start NAME PORT
moto_start() {
  start_bg "$1" "$MOTO_VENV/bin/python" "$KOO_ROOT/infra/python/serve_moto.py" -H 127.0.0.1 -p "$2"
  wait_healthy "$1" 30 moto_check "$2"
}
