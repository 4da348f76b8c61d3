#!/usr/bin/env bash
# Schemathesis against the real binary: the served OpenAPI document, once per role,
# with schemathesis's default checks and its stateful phase. Any server error, any
# response that violates the document and any 405 without `Allow` fails the run.
#
#   .ci/schemathesis.sh                      # embedded SQLite in a fresh data directory
#   .ci/schemathesis.sh postgres://…/test    # a fresh PostgreSQL database, created here
#
# Configuration (and every place where we tell schemathesis it is wrong about us,
# with the reason) is in .ci/schemathesis.toml. Bounded: every step runs under
# `timeout`, and each role's run has a fixed number of examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-25}"
PER_ROLE_SECONDS="${SCHEMATHESIS_ROLE_TIMEOUT:-150}"
PG_SERVER="${1:-}"
WORK=target/schemathesis
BIN=target/debug/mandaat
mkdir -p "$WORK"

log() { printf '  [schemathesis] %s\n' "$*"; }

if [ ! -x "$WORK/venv/bin/schemathesis" ] ||
  ! "$WORK/venv/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $WORK/venv"
  timeout 120 python3 -m venv "$WORK/venv"
  timeout 300 "$WORK/venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
timeout 900 cargo build -q --bin mandaat

DATA=$(mktemp -d "$PWD/$WORK/data.XXXXXX")
DB_ARGS=()
DB_NAME=""
if [ -n "$PG_SERVER" ]; then
  DB_NAME="mandaat_schemathesis_$$"
  timeout 30 psql "$PG_SERVER" -qAtc "CREATE DATABASE $DB_NAME" >/dev/null
  DB_ARGS=(--database-url "${PG_SERVER%/*}/$DB_NAME")
fi
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$DB_NAME" ]; then
    timeout 30 psql "$PG_SERVER" -qAtc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
# Rate limits off for the run (a rate of 0 turns a limit off; see the README):
# schemathesis sends thousands of requests with one token from one address.
MANDAAT_RATE_LIMIT_ANONYMOUS=0 MANDAAT_RATE_LIMIT_AUTHENTICATED=0 RUST_LOG=warn \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" "${DB_ARGS[@]}" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$BASE/readyz" >/dev/null

cli() { RUST_LOG=warn timeout 60 "$BIN" "$@" --data-dir "$DATA" "${DB_ARGS[@]}"; }
ADMIN=$(cli token issue --role admin --ttl 1h --subject schemathesis-admin)
api() { # METHOD PATH [BODY] with the admin token; prints the body, fails on >= 400
  timeout 30 curl -fsS -X "$1" -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "$BASE$2"
}

log "seeding members, a board key and proposals"
BOARD_MEMBER=$(api POST /api/v1/members '{"bg_number": 41775, "name": "Stichting Seed PO", "pupils": {"po": 850}}' | jq -r .id)
VO_MEMBER=$(api POST /api/v1/members '{"bg_number": 41776, "name": "Stichting Seed VO", "pupils": {"vo": 1200}}' | jq -r .id)
PO_VO_MEMBER=$(api POST /api/v1/members '{"bg_number": 41777, "name": "Stichting Seed PO VO", "pupils": {"po": 300, "vo": 400}}' | jq -r .id)
# A board is on a voter roll only as a member: admit all three.
for member in "$BOARD_MEMBER" "$VO_MEMBER" "$PO_VO_MEMBER"; do
  api POST "/api/v1/members/$member/membership" '{"action": "admit", "date": "2020-01-01"}' >/dev/null
done
# The board's key, registered with its proof of possession (docs/signing.md): the
# canonical statement signed with Ed25519 by openssl.
BOARD=$(cli token issue --role board --member "$BOARD_MEMBER" --ttl 1h --subject schemathesis-board)
openssl genpkey -algorithm ed25519 -out "$DATA/board.pem" 2>/dev/null
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
PUBLIC=$(openssl pkey -in "$DATA/board.pem" -pubout -outform DER | tail -c 32 | b64url)
KEY_ID=$(openssl pkey -in "$DATA/board.pem" -pubout -outform DER | tail -c 32 | sha256sum | cut -c1-64)
printf '{"member":"%s","public_key":"%s","type":"mandaat.key.v1"}' "$BOARD_MEMBER" "$PUBLIC" >"$DATA/proof.json"
SIGNATURE=$(openssl pkeyutl -sign -inkey "$DATA/board.pem" -rawin -in "$DATA/proof.json" | b64url)
STATEMENT=$(b64url <"$DATA/proof.json")
timeout 30 curl -fsS -X POST -H "Authorization: Bearer $BOARD" -H 'Content-Type: application/json' \
  -d "{\"statement\":\"$STATEMENT\",\"key_id\":\"$KEY_ID\",\"signature\":\"$SIGNATURE\"}" \
  "$BASE/api/v1/members/$BOARD_MEMBER/keys" >/dev/null
OPENS=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
CLOSES=$(date -u -d '+7 days' +%Y-%m-%dT%H:%M:%SZ)
spec() {
  printf '{"title": "%s", "kind": "resolution", "electorate": {"sectors": ["PO", "VO"], "weighting": "one-member-one-vote", "quorum": "1/2", "majority": {"kind": "more-than", "fraction": "1/2"}}, "opens_at": "%s", "closes_at": "%s"}' "$1" "$OPENS" "$CLOSES"
}
api POST /api/v1/proposals "$(spec 'Seed draft')" >/dev/null
OPEN_ID=$(api POST /api/v1/proposals "$(spec 'Seed open')" | jq -r .id)
api POST "/api/v1/proposals/$OPEN_ID/open" >/dev/null
# A final proposal with one signed ballot, so that results, tallies and certified
# results are there to fetch: its window closes a few seconds from now.
CLOSES=$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)
FINAL_ID=$(api POST /api/v1/proposals "$(spec 'Seed final')" | jq -r .id)
DIGEST=$(api POST "/api/v1/proposals/$FINAL_ID/open" | jq -r .digest)
NONCE=$(head -c 16 /dev/urandom | b64url)
CAST_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '{"cast_at":"%s","choice":{"vote":"yes"},"for":"%s","nonce":"%s","proposal":"%s","proposal_digest":"%s","type":"mandaat.ballot.v1","voter":"%s"}' \
  "$CAST_AT" "$BOARD_MEMBER" "$NONCE" "$FINAL_ID" "$DIGEST" "$BOARD_MEMBER" >"$DATA/ballot.json"
SIGNATURE=$(openssl pkeyutl -sign -inkey "$DATA/board.pem" -rawin -in "$DATA/ballot.json" | b64url)
STATEMENT=$(b64url <"$DATA/ballot.json")
timeout 30 curl -fsS -X POST -H "Authorization: Bearer $BOARD" -H 'Content-Type: application/json' \
  -d "{\"statement\":\"$STATEMENT\",\"key_id\":\"$KEY_ID\",\"signature\":\"$SIGNATURE\"}" \
  "$BASE/api/v1/proposals/$FINAL_ID/ballots" >/dev/null
sleep 5
api POST "/api/v1/proposals/$FINAL_ID/close" >/dev/null
api POST "/api/v1/proposals/$FINAL_ID/finalize" >/dev/null

AUDITOR=$(cli token issue --role auditor --ttl 1h --subject schemathesis-auditor)
COUNCIL=$(cli token issue --role council --sector PO --ttl 1h --subject schemathesis-council)

status=0
for role in admin auditor council board; do
  case $role in
    admin) token=$ADMIN ;;
    auditor) token=$AUDITOR ;;
    council) token=$COUNCIL ;;
    board) token=$BOARD ;;
  esac
  log "role $role: schemathesis run (at most $EXAMPLES examples per operation, ${PER_ROLE_SECONDS}s)"
  started=$(date +%s)
  # Run from $WORK: schemathesis keeps its crash cache (.schemathesis/) in the
  # working directory, which belongs under target/, not in the source tree.
  if ! (cd "$WORK" && timeout "$PER_ROLE_SECONDS" \
    venv/bin/schemathesis --config-file "$ROOT/.ci/schemathesis.toml" run "$BASE/openapi.json" \
    --header "Authorization: Bearer $token" \
    --max-examples "$EXAMPLES" --seed 20260101 --workers 2 --no-color \
    --generation-database none \
    --report junit --report-junit-path "junit-$role.xml" \
    >"run-$role.log" 2>&1); then
    status=1
    log "role $role FAILED after $(($(date +%s) - started))s; the report:"
    tail -n 200 "$WORK/run-$role.log"
  else
    log "role $role passed in $(($(date +%s) - started))s: $(grep -E 'test cases|passed|generated' "$WORK/run-$role.log" | tail -n 3 | tr '\n' ' ')"
  fi
done
if grep -q "panicked" "$WORK/server.log"; then
  log "the server logged a panic:"
  grep -A5 "panicked" "$WORK/server.log" | head -n 40
  status=1
fi
exit $status
