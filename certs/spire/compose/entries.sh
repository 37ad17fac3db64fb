#!/bin/sh
# Registration entries for compose.yaml: the SPIFFE IDs of
# certs/registrations.yaml, each selected by its compose service's label
# (the docker workload attestor). Idempotent: an existing entry is kept.
#
#   SPIRE_SERVER="docker compose exec -T spire-server /opt/spire/bin/spire-server" \
#     certs/spire/compose/entries.sh
set -eu

SPIRE_SERVER=${SPIRE_SERVER:-spire-server}
# The agent joins with a token generated for this ID (README.md).
AGENT_ID=spiffe://mercato.local/agent/compose

# entry SPIFFE_ID SERVICE: the container of compose service SERVICE gets SPIFFE_ID.
entry() {
    if $SPIRE_SERVER entry show -spiffeID "$1" | grep -q "Entry ID"; then
        echo "kept    $1"
        return
    fi
    $SPIRE_SERVER entry create \
        -parentID "$AGENT_ID" \
        -spiffeID "$1" \
        -selector "docker:label:com.docker.compose.service:$2" \
        -x509SVIDTTL 3600
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
