package issuer

import (
	"crypto/x509"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// view is what one caller may see at one moment: its SVIDs, default first,
// and the trust bundle that verifies them.
type view struct {
	svids      []*svid
	roots      []*x509.Certificate
	generation uint64 // of the bundle
}

// svidKey identifies the SVIDs and bundle of the view.
func (v view) svidKey() string {
	var b strings.Builder
	for _, s := range v.svids {
		b.WriteString(serialHex(s.chain[0]))
		b.WriteByte(',')
	}
	return b.String() + v.bundleKey()
}

// bundleKey identifies the bundle of the view.
func (v view) bundleKey() string { return strconv.FormatUint(v.generation, 10) }

// viewFor returns the caller's current view, or PermissionDenied when it
// matches no registration entry or is no longer the process attested when
// its connection was accepted. Every response is built from a view, so every
// call and every streamed update checks the binding again.
func (i *Issuer) viewFor(c caller) (view, error) {
	if err := c.unchanged(); err != nil {
		i.log.Warn("refused caller: "+status.Convert(err).Message(), c.logAttrs()...)
		return view{}, err
	}
	ids := i.registry.match(c)
	if len(ids) == 0 {
		i.log.Warn("refused caller: it matches no registration entry", c.logAttrs()...)
		return view{}, status.Error(codes.PermissionDenied, "no identity issued")
	}
	var v view
	now := time.Now()
	for _, id := range ids {
		s, err := i.svids.get(id, now)
		if err != nil {
			i.log.Error("could not issue SVID", "spiffe_id", id.String(), "err", err)
			return view{}, status.Errorf(codes.Unavailable, "could not issue SVID for %s", id)
		}
		v.svids = append(v.svids, s)
	}
	roots, gen, err := i.keys.bundle()
	if err != nil {
		i.log.Error("CA state", "err", err) // the bundle is still right; only saving it failed
	}
	v.roots, v.generation = roots, gen
	return v, nil
}

// concatDER concatenates the certificates' DER encodings, as the Workload
// API carries chains and bundles.
func concatDER(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.Raw...)
	}
	return out
}
