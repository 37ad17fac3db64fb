package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Open connects to the Workload API at addr ("unix:///path/agent.sock"; empty means the
// SPIFFE_ENDPOINT_SOCKET variable) and waits, within ctx, for the first SVID. When id is not
// zero, the SVID with that SPIFFE ID is used instead of the default one.
func Open(ctx context.Context, addr string, id spiffeid.ID) (*workloadapi.X509Source, error) {
	var clientOpts []workloadapi.ClientOption
	if addr != "" {
		clientOpts = append(clientOpts, workloadapi.WithAddr(addr))
	}
	opts := []workloadapi.X509SourceOption{workloadapi.WithClientOptions(clientOpts...)}
	if !id.IsZero() {
		opts = append(opts, workloadapi.WithDefaultX509SVIDPicker(PickID(id)))
	}
	src, err := workloadapi.NewX509Source(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("open workload API %q: %w", addr, err)
	}
	if svid, err := src.GetX509SVID(); err != nil || (!id.IsZero() && svid.ID != id) {
		src.Close()
		return nil, fmt.Errorf("workload API %q issued no SVID for %s", addr, id)
	}
	return src, nil
}

// PickID returns a picker choosing the SVID with the given ID, or the default (first) one.
func PickID(id spiffeid.ID) func([]*x509svid.SVID) *x509svid.SVID {
	return func(svids []*x509svid.SVID) *x509svid.SVID {
		for _, s := range svids {
			if s.ID == id {
				return s
			}
		}
		return svids[0]
	}
}

// ErrSVIDExpired is returned instead of an SVID whose certificate is no longer valid.
var ErrSVIDExpired = errors.New("SVID expired")

// Fresh wraps src so that it never hands out an expired SVID: a process whose Workload API has
// been gone for longer than an SVID lifetime stops completing handshakes instead of presenting a
// certificate every peer would reject.
func Fresh(src Source) Source { return fresh{Source: src} }

type fresh struct{ Source }

func (f fresh) GetX509SVID() (*x509svid.SVID, error) {
	svid, err := f.Source.GetX509SVID()
	if err != nil {
		return nil, err
	}
	if time.Now().After(svid.Certificates[0].NotAfter) {
		return nil, fmt.Errorf("%s: %w at %s", svid.ID, ErrSVIDExpired, svid.Certificates[0].NotAfter.Format(time.RFC3339))
	}
	return svid, nil
}

// CheckSVID reports whether src holds an SVID with more than a quarter of its lifetime left.
// The Workload API refreshes SVIDs at half their lifetime, so an SVID below a quarter means the
// API has been unreachable for a while: readiness turns false well before the SVID expires.
func CheckSVID(src x509svid.Source, now time.Time) error {
	svid, err := src.GetX509SVID()
	if err != nil {
		return fmt.Errorf("no SVID: %w", err)
	}
	leaf := svid.Certificates[0]
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	if left := leaf.NotAfter.Sub(now); left < lifetime/4 {
		return fmt.Errorf("SVID %s expires in %s (of %s): workload API not refreshing it", svid.ID, left.Round(time.Millisecond), lifetime)
	}
	return nil
}
