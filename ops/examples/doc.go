// Package examples holds the client examples of the README's "Clients" section, each a program
// or script that runs against the platform through the edge (ops/e2e runs every one of them):
//
//	grpc-go/     grpc-go with the generated stubs (<service>_grpc.pb.go)
//	connect-go/  connect-go with the generated Connect clients, any of the three protocols
//	curl.sh      plain curl and JSON
//	buf-curl.sh  buf curl with the committed schema image (proto/schema.binpb), offline
//
// Each reads EDGE (default https://localhost:8443) and CA (default .data/edge/ca.pem, the dev
// CA of `make up`), and EMAIL / PASSWORD (default the demo customer), and runs from the
// repository root.
package examples
