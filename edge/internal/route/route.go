// Package route is the route table of an HTTP connection manager (RouteConfiguration, from RDS):
// the virtual host is chosen by :authority as Envoy chooses it, then the first route of that host
// whose match the request satisfies. Routes carry what the router and the HTTP filters need:
// cluster, timeouts, retry policy and per-filter configuration (CORS policy, JWT requirement),
// the most specific level winning.
package route

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"mercato.dev/edge/internal/headers"
	"mercato.dev/edge/internal/upstream"
)

// defaultTimeout is Envoy's route timeout when a route sets none.
const defaultTimeout = 15 * time.Second

// Table is a compiled RouteConfiguration.
type Table struct {
	Name   string
	exact  map[string]*VirtualHost
	suffix []wildcard // "*.example.com", longest first
	prefix []wildcard // "example.*", longest first
	any    *VirtualHost
}

type wildcard struct {
	part string
	vh   *VirtualHost
}

// VirtualHost is one virtual host of a table.
type VirtualHost struct {
	Name   string
	Routes []*Route
}

// Route is one compiled route.
type Route struct {
	Name        string
	VirtualHost string
	match       *Matcher

	// Router settings.
	Cluster         string
	NotFoundStatus  int           // answer when Cluster does not exist [503]
	Timeout         time.Duration // 0: no timeout
	GRPCTimeoutMax  *time.Duration
	Retry           *upstream.RetryPolicy
	PrefixRewrite   string
	HostRewrite     string
	Direct          *Direct
	RequestHeaders  headers.Ops
	ResponseHeaders headers.Ops

	// PerFilter holds the compiled typed_per_filter_config of the route, its virtual host and
	// table merged (most specific wins), keyed by HTTP filter name.
	PerFilter map[string]any
}

// Direct is a direct_response.
type Direct struct {
	Status int
	Body   string
}

// New compiles rc.
func New(rc *routev3.RouteConfiguration) (*Table, error) {
	if rc.GetVhds() != nil {
		return nil, errors.New("VHDS is not supported by the dev edge")
	}
	t := &Table{Name: rc.GetName(), exact: map[string]*VirtualHost{}}
	base, err := compilePerFilter(rc.GetTypedPerFilterConfig())
	if err != nil {
		return nil, fmt.Errorf("route configuration %s: %w", rc.GetName(), err)
	}
	ops, err := headerOps(rc.GetRequestHeadersToAdd(), rc.GetRequestHeadersToRemove(), rc.GetResponseHeadersToAdd(), rc.GetResponseHeadersToRemove())
	if err != nil {
		return nil, fmt.Errorf("route configuration %s: %w", rc.GetName(), err)
	}
	for _, v := range rc.GetVirtualHosts() {
		vh, err := newVirtualHost(v, base, ops)
		if err != nil {
			return nil, fmt.Errorf("virtual host %s: %w", v.GetName(), err)
		}
		if err := t.add(v.GetDomains(), vh); err != nil {
			return nil, err
		}
	}
	byLength := func(a, b wildcard) int { return cmp.Compare(len(b.part), len(a.part)) }
	slices.SortStableFunc(t.suffix, byLength)
	slices.SortStableFunc(t.prefix, byLength)
	return t, nil
}

func (t *Table) add(domains []string, vh *VirtualHost) error {
	for _, d := range domains {
		d = strings.ToLower(d)
		switch {
		case d == "*":
			if t.any != nil {
				return fmt.Errorf("domain * used by two virtual hosts")
			}
			t.any = vh
		case strings.HasPrefix(d, "*"):
			t.suffix = append(t.suffix, wildcard{d[1:], vh})
		case strings.HasSuffix(d, "*"):
			t.prefix = append(t.prefix, wildcard{d[:len(d)-1], vh})
		default:
			if _, dup := t.exact[d]; dup {
				return fmt.Errorf("domain %s used by two virtual hosts", d)
			}
			t.exact[d] = vh
		}
	}
	return nil
}

// ops is a level's header operations: request and response.
type ops struct{ request, response headers.Ops }

func headerOps(reqAdd []*corev3.HeaderValueOption, reqRemove []string, resAdd []*corev3.HeaderValueOption, resRemove []string) (ops, error) {
	req, err := headers.FromOptions(reqAdd, reqRemove)
	if err != nil {
		return ops{}, err
	}
	res, err := headers.FromOptions(resAdd, resRemove)
	return ops{req, res}, err
}

func newVirtualHost(v *routev3.VirtualHost, base map[string]any, outer ops) (*VirtualHost, error) {
	switch {
	case v.GetCors() != nil:
		return nil, errors.New("the deprecated cors field is not supported by the dev edge: use typed_per_filter_config")
	case len(v.GetRateLimits()) > 0, v.GetHedgePolicy() != nil, len(v.GetRequestMirrorPolicies()) > 0:
		return nil, errors.New("rate limits, hedging and mirroring are not supported by the dev edge")
	}
	perFilter, err := compilePerFilter(v.GetTypedPerFilterConfig())
	if err != nil {
		return nil, err
	}
	perFilter = merge(base, perFilter)
	retry, err := upstream.NewRetryPolicy(v.GetRetryPolicy())
	if err != nil {
		return nil, err
	}
	own, err := headerOps(v.GetRequestHeadersToAdd(), v.GetRequestHeadersToRemove(), v.GetResponseHeadersToAdd(), v.GetResponseHeadersToRemove())
	if err != nil {
		return nil, err
	}
	vh := &VirtualHost{Name: v.GetName()}
	for i, r := range v.GetRoutes() {
		rt, err := newRoute(r, vh.Name, perFilter, retry, []ops{own, outer})
		if err != nil {
			return nil, fmt.Errorf("route %d (%s): %w", i, r.GetName(), err)
		}
		vh.Routes = append(vh.Routes, rt)
	}
	return vh, nil
}

func newRoute(r *routev3.Route, vhost string, outer map[string]any, vhRetry *upstream.RetryPolicy, outerOps []ops) (*Route, error) {
	m, err := NewMatcher(r.GetMatch())
	if err != nil {
		return nil, err
	}
	perFilter, err := compilePerFilter(r.GetTypedPerFilterConfig())
	if err != nil {
		return nil, err
	}
	rt := &Route{Name: r.GetName(), VirtualHost: vhost, match: m, PerFilter: merge(outer, perFilter)}
	own, err := headerOps(r.GetRequestHeadersToAdd(), r.GetRequestHeadersToRemove(), r.GetResponseHeadersToAdd(), r.GetResponseHeadersToRemove())
	if err != nil {
		return nil, err
	}
	for _, o := range append([]ops{own}, outerOps...) { // most specific first, as Envoy applies them
		rt.RequestHeaders = append(rt.RequestHeaders, o.request...)
		rt.ResponseHeaders = append(rt.ResponseHeaders, o.response...)
	}
	switch a := r.GetAction().(type) {
	case *routev3.Route_Route:
		return rt, rt.setAction(a.Route, vhRetry)
	case *routev3.Route_DirectResponse:
		rt.Direct = &Direct{Status: int(a.DirectResponse.GetStatus())}
		if b := a.DirectResponse.GetBody(); b != nil {
			if b.GetFilename() != "" || b.GetEnvironmentVariable() != "" {
				return nil, errors.New("direct_response: only an inline body is supported by the dev edge")
			}
			rt.Direct.Body = b.GetInlineString() + string(b.GetInlineBytes())
		}
		return rt, nil
	default:
		return nil, fmt.Errorf("route action %T is not supported by the dev edge", a)
	}
}

func (rt *Route) setAction(a *routev3.RouteAction, vhRetry *upstream.RetryPolicy) error {
	c, ok := a.GetClusterSpecifier().(*routev3.RouteAction_Cluster)
	if !ok {
		return fmt.Errorf("cluster specifier %T is not supported by the dev edge", a.GetClusterSpecifier())
	}
	switch {
	case a.GetRegexRewrite() != nil, a.GetPathRewritePolicy() != nil:
		return errors.New("only prefix_rewrite is supported by the dev edge")
	case a.GetHostRewriteSpecifier() != nil && a.GetHostRewriteLiteral() == "":
		return errors.New("only host_rewrite_literal is supported by the dev edge")
	case a.GetCors() != nil:
		return errors.New("the deprecated cors field is not supported by the dev edge: use typed_per_filter_config")
	case len(a.GetRequestMirrorPolicies()) > 0, a.GetHedgePolicy() != nil, len(a.GetRateLimits()) > 0:
		return errors.New("mirroring, hedging and rate limits are not supported by the dev edge")
	}
	rt.Cluster = c.Cluster
	rt.PrefixRewrite = a.GetPrefixRewrite()
	if rt.PrefixRewrite != "" && (rt.match.path == ruleRegex || !rt.match.caseSensitive) {
		return errors.New("prefix_rewrite needs a case-sensitive prefix or path match")
	}
	rt.HostRewrite = a.GetHostRewriteLiteral()
	rt.Timeout = defaultTimeout
	if a.GetTimeout() != nil {
		rt.Timeout = a.GetTimeout().AsDuration()
	}
	if msd := a.GetMaxStreamDuration(); msd.GetGrpcTimeoutHeaderMax() != nil {
		d := msd.GetGrpcTimeoutHeaderMax().AsDuration()
		rt.GRPCTimeoutMax = &d
	}
	switch a.GetClusterNotFoundResponseCode() {
	case routev3.RouteAction_NOT_FOUND:
		rt.NotFoundStatus = http.StatusNotFound
	case routev3.RouteAction_INTERNAL_SERVER_ERROR:
		rt.NotFoundStatus = http.StatusInternalServerError
	default:
		rt.NotFoundStatus = http.StatusServiceUnavailable
	}
	retry, err := upstream.NewRetryPolicy(a.GetRetryPolicy())
	if err != nil {
		return err
	}
	rt.Retry = cmp.Or(retry, vhRetry)
	return nil
}

// RewritePath applies prefix_rewrite to the request path.
func (rt *Route) RewritePath(path string) string {
	if rt.PrefixRewrite == "" || !strings.HasPrefix(path, rt.match.value) {
		return path
	}
	return rt.PrefixRewrite + path[len(rt.match.value):]
}

// TimeoutFor is the route timeout of r: with max_stream_duration.grpc_timeout_header_max set, a
// gRPC request's grpc-timeout (capped by that maximum, 0 meaning uncapped) replaces it.
func (rt *Route) TimeoutFor(r *http.Request) time.Duration {
	if rt.GRPCTimeoutMax == nil {
		return rt.Timeout
	}
	d, ok := parseGRPCTimeout(r.Header.Get("Grpc-Timeout"))
	if !ok {
		return rt.Timeout
	}
	if max := *rt.GRPCTimeoutMax; max > 0 && d > max {
		return max
	}
	return d
}

func parseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}[v[len(v)-1]]
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// Lookup returns the route for r, or nil when no virtual host or route matches.
func (t *Table) Lookup(r *http.Request) *Route {
	vh := t.virtualHost(strings.ToLower(r.Host))
	if vh == nil {
		return nil
	}
	for _, rt := range vh.Routes {
		if rt.match.Match(r) {
			return rt
		}
	}
	return nil
}

func (t *Table) virtualHost(host string) *VirtualHost {
	if vh, ok := t.exact[host]; ok {
		return vh
	}
	for _, w := range t.suffix {
		if len(host) > len(w.part) && strings.HasSuffix(host, w.part) {
			return w.vh
		}
	}
	for _, w := range t.prefix {
		if len(host) > len(w.part) && strings.HasPrefix(host, w.part) {
			return w.vh
		}
	}
	return t.any
}
