package issuer_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"mercato.dev/certs/issuer"
)

func TestWorkloadAPIServesTheRegisteredCaller(t *testing.T) {
	t.Parallel()
	entry := selfEntry(t, "/test/self")
	cfg := testConfig(t, entry)
	iss := startIssuer(t, cfg)
	client := workloadClient(t, cfg.SocketPath)

	x509ctx, err := client.FetchX509Context(testCtx(t))
	if err != nil {
		t.Fatalf("FetchX509Context: %v", err)
	}
	svid := x509ctx.DefaultSVID()
	if svid.ID != entry.ID {
		t.Errorf("SVID ID = %s, want %s", svid.ID, entry.ID)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, x509ctx.Bundles); err != nil {
		t.Errorf("the SVID does not verify against the bundle it came with: %v", err)
	}
	if life := time.Until(svid.Certificates[0].NotAfter); life < 59*time.Minute || life > time.Hour+time.Second {
		t.Errorf("SVID lives %s more, want about the default hour", life)
	}
	bundles, err := client.FetchX509Bundles(testCtx(t))
	if err != nil {
		t.Fatalf("FetchX509Bundles: %v", err)
	}
	bundle, err := bundles.GetX509BundleForTrustDomain(td)
	if err != nil || !bundle.Equal(iss.Bundle()) {
		t.Errorf("FetchX509Bundles: %v, equal to Bundle(): %v", err, err == nil && bundle.Equal(iss.Bundle()))
	}
}

func TestWorkloadAPICallRules(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, selfEntry(t, "/test/self"))
	startIssuer(t, cfg)
	api := workload.NewSpiffeWorkloadAPIClient(dial(t, cfg.SocketPath))
	withHeader := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true")
	}
	tests := []struct {
		name string
		call func(ctx context.Context) error
		want codes.Code
	}{
		{"X509-SVID without header", func(ctx context.Context) error {
			return firstX509SVID(api.FetchX509SVID(ctx, &workload.X509SVIDRequest{}))
		}, codes.InvalidArgument},
		{"bundles with header false", func(ctx context.Context) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "false")
			return firstBundles(api.FetchX509Bundles(ctx, &workload.X509BundlesRequest{}))
		}, codes.InvalidArgument},
		{"JWT-SVID without header", func(ctx context.Context) error {
			_, err := api.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"x"}})
			return err
		}, codes.InvalidArgument},
		{"JWT-SVID", func(ctx context.Context) error {
			_, err := api.FetchJWTSVID(withHeader(ctx), &workload.JWTSVIDRequest{Audience: []string{"x"}})
			return err
		}, codes.Unimplemented},
		{"validate JWT-SVID", func(ctx context.Context) error {
			_, err := api.ValidateJWTSVID(withHeader(ctx), &workload.ValidateJWTSVIDRequest{Audience: "x", Svid: "y"})
			return err
		}, codes.Unimplemented},
		{"X509-SVID with header", func(ctx context.Context) error {
			return firstX509SVID(api.FetchX509SVID(withHeader(ctx), &workload.X509SVIDRequest{}))
		}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := status.Code(tt.call(testCtx(t))); got != tt.want {
				t.Errorf("code = %s, want %s", got, tt.want)
			}
		})
	}
}

func firstX509SVID(stream workload.SpiffeWorkloadAPI_FetchX509SVIDClient, err error) error {
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

func firstBundles(stream workload.SpiffeWorkloadAPI_FetchX509BundlesClient, err error) error {
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

func TestUnregisteredCallerIsDenied(t *testing.T) {
	t.Parallel()
	other := issuer.Entry{ID: spiffeid.RequireFromPath(td, "/svc/other"), Selectors: []string{"unix:path:bin/other"}}
	// Matching path but another uid: every selector must match.
	wrongUID := selfEntry(t, "/test/self", "unix:uid:4294967294")
	cfg := testConfig(t, other, wrongUID)
	startIssuer(t, cfg)
	client := workloadClient(t, cfg.SocketPath)

	_, err := client.FetchX509Context(testCtx(t))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("FetchX509Context: %v, want PermissionDenied", err)
	}
	_, err = client.FetchX509Bundles(testCtx(t))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("FetchX509Bundles: %v, want PermissionDenied", err)
	}
}

func TestCallerMatchingTwoEntriesGetsBoth(t *testing.T) {
	t.Parallel()
	first := selfEntry(t, "/test/first")
	second := selfEntry(t, "/test/second", uidSelector())
	cfg := testConfig(t, first, second)
	startIssuer(t, cfg)

	x509ctx, err := workloadClient(t, cfg.SocketPath).FetchX509Context(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(x509ctx.SVIDs) != 2 || x509ctx.SVIDs[0].ID != first.ID || x509ctx.SVIDs[1].ID != second.ID {
		t.Fatalf("SVIDs = %v, want [%s %s]", svidIDs(x509ctx.SVIDs), first.ID, second.ID)
	}
	source, err := workloadapi.NewX509Source(testCtx(t),
		workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+cfg.SocketPath)),
		workloadapi.WithDefaultX509SVIDPicker(func(svids []*x509svid.SVID) *x509svid.SVID { return svids[1] }))
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	picked, err := source.GetX509SVID()
	if err != nil || picked.ID != second.ID {
		t.Errorf("picked %v (%v), want %s", picked, err, second.ID)
	}
}

func TestSetEntriesEndsStreamsOfCallersThatLostTheirEntries(t *testing.T) {
	t.Parallel()
	keep, drop := selfEntry(t, "/test/keep"), selfEntry(t, "/test/drop", uidSelector())
	cfg := testConfig(t, keep, drop)
	iss := startIssuer(t, cfg)
	api := workload.NewSpiffeWorkloadAPIClient(dial(t, cfg.SocketPath))
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "workload.spiffe.io", "true")
	stream, err := api.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || len(resp.Svids) != 2 {
		t.Fatalf("first response: %d SVIDs, %v; want 2", len(resp.GetSvids()), err)
	}

	iss.SetEntries([]issuer.Entry{keep})
	resp, err := stream.Recv()
	if err != nil || len(resp.Svids) != 1 || resp.Svids[0].SpiffeId != keep.ID.String() {
		t.Fatalf("after dropping one entry: %v, %v; want only %s", resp, err, keep.ID)
	}
	iss.SetEntries(nil)
	if _, err := stream.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after dropping every entry: %v, want PermissionDenied", err)
	}
}

func svidIDs(svids []*x509svid.SVID) []string {
	var ids []string
	for _, s := range svids {
		ids = append(ids, s.ID.String())
	}
	return ids
}
