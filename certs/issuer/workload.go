package issuer

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// workloadAPI serves the X.509 half of the SPIFFE Workload API; the JWT and
// WIT methods answer Unimplemented.
type workloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	iss *Issuer
}

var _ workload.SpiffeWorkloadAPIServer = workloadAPI{}

// FetchX509SVID streams the caller's SVIDs, default first, with the bundle,
// and again whenever either changes.
func (w workloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	return w.iss.watch(stream.Context(), view.svidKey, func(v view) error {
		return stream.Send(w.x509SVIDResponse(v))
	})
}

// FetchX509Bundles streams the trust bundle, and again whenever it changes.
func (w workloadAPI) FetchX509Bundles(_ *workload.X509BundlesRequest, stream grpc.ServerStreamingServer[workload.X509BundlesResponse]) error {
	return w.iss.watch(stream.Context(), view.bundleKey, func(v view) error {
		return stream.Send(&workload.X509BundlesResponse{
			Bundles: map[string][]byte{w.iss.cfg.TrustDomain.IDString(): concatDER(v.roots)},
		})
	})
}

func (w workloadAPI) x509SVIDResponse(v view) *workload.X509SVIDResponse {
	bundle := concatDER(v.roots)
	resp := &workload.X509SVIDResponse{Svids: make([]*workload.X509SVID, 0, len(v.svids))}
	for _, s := range v.svids {
		resp.Svids = append(resp.Svids, &workload.X509SVID{
			SpiffeId:    s.id.String(),
			X509Svid:    concatDER(s.chain),
			X509SvidKey: s.keyDER,
			Bundle:      bundle,
		})
	}
	return resp
}

// watch attests the caller, then sends its view now and whenever the part
// that key selects changes, until the caller leaves, loses its last entry
// (PermissionDenied) or the issuer stops (Unavailable).
func (i *Issuer) watch(ctx context.Context, key func(view) string, send func(view) error) error {
	c, err := attest(ctx)
	if err != nil {
		return err
	}
	changed := i.hub.changed()
	last := ""
	for {
		v, err := i.viewFor(c)
		if err != nil {
			return err
		}
		if k := key(v); k != last {
			if err := send(v); err != nil {
				return err
			}
			last = k
		}
		select {
		case <-changed:
			changed = i.hub.changed()
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-i.stopping:
			return errStopping
		}
	}
}

var errStopping = status.Error(codes.Unavailable, "issuer is shutting down")
