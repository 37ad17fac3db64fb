#!/bin/sh
# Registration entries: the SPIFFE IDs of certs/registrations.yaml, under one node entry that
# the agent holding the x509pop certificate of `make compose-bootstrap` matches. Idempotent: an
# existing entry is kept. SVID lifetimes are the server's (default_x509_svid_ttl in
# server.conf): entries set none.
#
# SELECTOR chooses how workloads are recognised:
#   docker (default)  docker:label:com.docker.compose.service:<service>: the compose services
#   unix              unix:path:$BIN_DIR/<binary>: the same IDs for binaries on one host (the
#                     agent's unix attestor, discover_workload_path = true); BIN_DIR defaults
#                     to ./bin and must be absolute or relative to the current directory
#
#   SPIRE_SERVER="docker compose exec -T spire-server /opt/spire/bin/spire-server" \
#     certs/spire/compose/entries.sh
#   SELECTOR=unix BIN_DIR=$PWD/bin SPIRE_SERVER="spire-server -socketPath …" certs/spire/compose/entries.sh
set -eu

SPIRE_SERVER=${SPIRE_SERVER:-spire-server}
SELECTOR=${SELECTOR:-docker}
# The node alias every agent with the x509pop certificate of this CN gets (make compose-bootstrap,
# certs/cmd/spire-x509pop -cn).
AGENT_ID=spiffe://mercato.local/agent/compose
AGENT_CN=${AGENT_CN:-mercato-compose-agent}

case "$SELECTOR" in
docker) ;;
unix)
    BIN_DIR=${BIN_DIR:-bin}
    BIN_DIR=$(cd "$BIN_DIR" && pwd)
    ;;
*)
    echo "SELECTOR=$SELECTOR: want docker or unix" >&2
    exit 2
    ;;
esac

exists() {
    $SPIRE_SERVER entry show -spiffeID "$1" | grep -q "Entry ID"
}

if exists "$AGENT_ID"; then
    echo "kept    $AGENT_ID"
else
    $SPIRE_SERVER entry create -node \
        -spiffeID "$AGENT_ID" \
        -selector "x509pop:subject:cn:$AGENT_CN"
fi

# entry SPIFFE_ID NAME: the compose service NAME, or the binary bin/NAME, gets SPIFFE_ID.
entry() {
    if exists "$1"; then
        echo "kept    $1"
        return
    fi
    case "$SELECTOR" in
    docker) selector="docker:label:com.docker.compose.service:$2" ;;
    unix) selector="unix:path:$BIN_DIR/$2" ;;
    esac
    $SPIRE_SERVER entry create \
        -parentID "$AGENT_ID" \
        -spiffeID "$1" \
        -selector "$selector"
}

entry spiffe://mercato.local/svc/customers     customers
entry spiffe://mercato.local/svc/inventory     inventory
entry spiffe://mercato.local/svc/orders        orders
entry spiffe://mercato.local/svc/payments      payments
entry spiffe://mercato.local/svc/notifications notifications
entry spiffe://mercato.local/xds               xds
entry spiffe://mercato.local/broker            broker
entry spiffe://mercato.local/edge              edge
entry spiffe://mercato.local/ops/cli           mercato
