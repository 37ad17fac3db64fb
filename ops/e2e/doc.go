// Package e2e holds the platform's end-to-end tests, run from the outside: one shared
// platform per test binary (the local SPIFFE issuer in-process, the broker binary as `mercato
// up` runs it, the xDS control plane, the five services and the dev edge, all real binaries on free ports
// and temporary data directories), driven through the public edge with curl-style JSON, Connect,
// gRPC and gRPC-Web clients, and directly over mTLS where a test needs to bypass the edge.
//
//	cd ops && go test ./e2e/ -v
//	cd ops && go test ./e2e/ -run '^$' -bench . -benchtime 2s
//
// The package has no non-test code; see main_test.go for the platform.
package e2e
