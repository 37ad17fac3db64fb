#!/bin/sh
# Registration entries for Kubernetes: the SPIFFE IDs of
# certs/registrations.yaml, each selected by namespace and service account
# (the k8s workload attestor), under one node entry that every agent of
# cluster "mercato" matches. Idempotent: an existing entry is kept. SVID lifetimes are the
# server's (default_x509_svid_ttl in server.conf): entries set none.
#
#   SPIRE_SERVER="kubectl exec -i -n spire spire-server-0 -c spire-server -- /opt/spire/bin/spire-server" \
#     certs/spire/k8s/entries.sh
set -eu

SPIRE_SERVER=${SPIRE_SERVER:-spire-server}
NAMESPACE=${MERCATO_NAMESPACE:-mercato}
NODE_ID=spiffe://mercato.local/ns/spire/sa/spire-agent

exists() {
    $SPIRE_SERVER entry show -spiffeID "$1" | grep -q "Entry ID"
}

# Every agent attested in cluster "mercato" with service account
# spire/spire-agent is a child of NODE_ID.
if exists "$NODE_ID"; then
    echo "kept    $NODE_ID"
else
    $SPIRE_SERVER entry create -node \
        -spiffeID "$NODE_ID" \
        -selector k8s_psat:cluster:mercato \
        -selector k8s_psat:agent_ns:spire \
        -selector k8s_psat:agent_sa:spire-agent
fi

# entry SPIFFE_ID SERVICE_ACCOUNT: pods of that service account in NAMESPACE get SPIFFE_ID.
entry() {
    if exists "$1"; then
        echo "kept    $1"
        return
    fi
    $SPIRE_SERVER entry create \
        -parentID "$NODE_ID" \
        -spiffeID "$1" \
        -selector "k8s:ns:$NAMESPACE" \
        -selector "k8s:sa:$2"
}

entry spiffe://mercato.local/svc/customers     customers
entry spiffe://mercato.local/svc/inventory     inventory
entry spiffe://mercato.local/svc/orders        orders
entry spiffe://mercato.local/svc/payments      payments
entry spiffe://mercato.local/svc/notifications notifications
entry spiffe://mercato.local/xds               xds
entry spiffe://mercato.local/broker            broker
entry spiffe://mercato.local/edge              edge
entry spiffe://mercato.local/ops/cli           mercato-cli
