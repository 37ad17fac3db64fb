package authz

import (
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	"mercato.dev/services/kit/identity"
)

// Middleware admits a request only when its mTLS peer may call the requested procedure, and
// records the peer's SPIFFE ID in the request context ([identity.Caller]). A refused call is
// answered permission_denied in the caller's protocol and logged with both identities; the
// handler never runs.
func (p *Policy) Middleware(self string, logger *slog.Logger, denied func(procedure string), next http.Handler) http.Handler {
	errw := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := identity.PeerID(r.TLS)
		if err != nil || !p.Allowed(r.URL.Path, caller) {
			logger.WarnContext(r.Context(), "call refused",
				"procedure", r.URL.Path, "caller", caller.String(), "server", self, "reason", reason(err))
			if denied != nil {
				denied(r.URL.Path)
			}
			writeDenied(errw, w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(identity.WithCaller(r.Context(), caller)))
	})
}

func reason(err error) string {
	if err != nil {
		return err.Error()
	}
	return "no rule allows this caller"
}

func writeDenied(errw *connect.ErrorWriter, w http.ResponseWriter, r *http.Request) {
	err := connect.NewError(connect.CodePermissionDenied, errors.New("caller is not allowed to call this method"))
	if errw.IsSupported(r) {
		_ = errw.Write(w, r, err)
		return
	}
	http.Error(w, err.Error(), http.StatusForbidden)
}
