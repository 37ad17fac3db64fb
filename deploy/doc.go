// Package deploy holds the checks that keep Mercato's deployment honest without a cluster:
// every Kubernetes manifest decodes strictly into k8s.io/api types, the kustomizations under
// k8s/ build with sigs.k8s.io/kustomize/api, every environment variable, port and path in the
// manifests and in compose.yaml matches what the binaries read and serve, and the
// NetworkPolicies allow exactly the designed call graph. The manifests themselves live next to
// what they deploy (services/*/k8s, xds/k8s, edge/, broker/k8s, certs/spire/k8s); k8s/base and
// k8s/overlays/local tie them together. The package has no code: its tests are the point.
package deploy
