package issuer

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// workloadAPIPrefix starts the full name of every Workload API method.
const workloadAPIPrefix = "/SpiffeWorkloadAPI/"

// securityHeader is the metadata every Workload API call must carry, so
// that a browser tricked into calling the socket (SSRF) cannot.
const securityHeader = "workload.spiffe.io"

// checkSecurityHeader refuses Workload API calls without the security
// header, with InvalidArgument as SPIRE does. SDS calls need none.
func checkSecurityHeader(ctx context.Context, fullMethod string) error {
	if !strings.HasPrefix(fullMethod, workloadAPIPrefix) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(securityHeader); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	return nil
}

func unaryHeaderCheck(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := checkSecurityHeader(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func streamHeaderCheck(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := checkSecurityHeader(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}
