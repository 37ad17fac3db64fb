package stack

import (
	"os"
	"path/filepath"
)

// JaegerQueryURL is where `make up TRACING=jaeger` serves Jaeger's query API (and `mercato
// trace` reads it by default).
const JaegerQueryURL = "http://127.0.0.1:16686"

// jaeger is the tracing backend `mercato up` runs when TRACING=jaeger: Jaeger v2 (bin/jaeger,
// built by `make jaeger` from tools/jaeger, outside go.work) with its all-in-one defaults —
// in-memory storage, OTLP on 127.0.0.1:4317 (gRPC) and :4318 (HTTP), query API on :16686 —
// and the variables that make every process export its spans to it. ok is false when
// TRACING is not "jaeger"; the binary may then be missing, reported like the others.
func jaeger(root string) (c Component, env []string, ok bool) {
	if os.Getenv("TRACING") != "jaeger" {
		return Component{}, nil, false
	}
	c = Component{
		Name:  "jaeger",
		Path:  filepath.Join(root, "bin", "jaeger"),
		Ready: HTTPReady(JaegerQueryURL + "/api/services"),
	}
	env = []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317",
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
	}
	return c, env, true
}
