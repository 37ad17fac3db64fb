package policy

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TrustDomain is the trust domain every cluster's SPIFFE ID must belong to.
var TrustDomain = spiffeid.RequireTrustDomainFromString("mercato.local")

var (
	clusterName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)               // as the registration API
	headerName  = regexp.MustCompile(`^[a-z0-9!#$%&'*+.^_|~-]+$`)       // lowercase HTTP token
	methodName  = regexp.MustCompile(`^[A-Z]+$`)                        // GET, POST, OPTIONS
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`) // one label of a domain
	retryOn     = []string{"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure",
		"refused-stream", "retriable-4xx", "retriable-status-codes", "http3-post-connect-failure",
		"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}
)

// validator checks a decoded policy, completes it (paths, per-route timeout and retry) and
// reports every problem under its field path.
type validator struct {
	errs  *Errors
	lines map[string]int
	opts  Options
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs.add(path, v.line(path), fmt.Sprintf(format, args...))
}

// line is the line of path, or of its nearest parent that has one.
func (v *validator) line(path string) int {
	for path != "" {
		if l, ok := v.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (v *validator) policy(p *Policy) {
	v.listener(p)
	v.connections(p.Listener.Connections)
	v.jwt(p)
	if p.Listener.ClientAddressHeader == p.JWT.ForwardPayloadHeader {
		v.fail("listener.client_address_header", "%q is already jwt.forward_payload_header", p.Listener.ClientAddressHeader)
	}
	v.corsOrigins(p)
	v.cors(p.CORS)
	if p.RouteDefaults.MaxRequestBytes == 0 {
		v.fail("route_defaults.max_request_bytes", "must be at least 1")
	}
	if len(p.Clusters) == 0 {
		v.fail("clusters", "at least one cluster is required")
	}
	defaultsErrs := len(v.errs.List)
	v.settings("cluster_defaults", p.ClusterDefaults)
	inherited := &Errors{List: v.errs.List[defaultsErrs:]}
	ids := map[string]string{}
	for _, name := range p.ClusterNames() {
		v.cluster(name, p.Clusters[name], ids, inherited)
	}
	for i, proc := range p.Private {
		if _, ok := methods()[proc]; !ok {
			v.fail(fmt.Sprintf("private[%d]", i), "%q is not a method of the Mercato contracts (want /<package>.<Service>/<Method>)", proc)
		}
	}
	v.routes(p)
	v.tracing(p.Tracing)
	if !dnsName(p.Proxyless.Domain) {
		v.fail("proxyless.domain", "%q is not a DNS domain", p.Proxyless.Domain)
	}
}

func (v *validator) listener(p *Policy) {
	l := &p.Listener
	if v.opts.ListenerAddress != "" {
		l.Address = v.opts.ListenerAddress
	}
	host, port, err := net.SplitHostPort(l.Address)
	if err != nil {
		v.fail("listener.address", "want ip:port, got %q", l.Address)
	} else {
		if _, err := netip.ParseAddr(host); err != nil {
			v.fail("listener.address", "want an IP address to bind (0.0.0.0, 127.0.0.1, ::), got %q", host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.fail("listener.address", "port %q is not in 1-65535", port)
		}
	}
	for field, path := range map[string]*string{"cert_file": &l.TLS.CertFile, "key_file": &l.TLS.KeyFile} {
		if *path == "" {
			v.fail("listener.tls."+field, "a file path is required")
		}
		*path = abs(v.opts.BaseDir, *path)
	}
	v.header("listener.client_address_header", l.ClientAddressHeader)
}

// connections checks the downstream connection limits.
func (v *validator) connections(c Connections) {
	const path = "listener.connections."
	if c.MaxConnections == 0 {
		v.fail(path+"max_connections", "must be at least 1 (0 would refuse every connection)")
	}
	if c.MaxConcurrentStreams == 0 || c.MaxConcurrentStreams > 1<<31-1 {
		v.fail(path+"max_concurrent_streams", "must be from 1 to 2147483647, got %d", c.MaxConcurrentStreams)
	}
	v.positive(path+"idle_timeout", c.IdleTimeout)
	v.positive(path+"request_headers_timeout", c.RequestHeadersTimeout)
	v.positive(path+"stream_idle_timeout", c.StreamIdleTimeout)
}

// corsOrigins adds the deployment's origins (Options.CORSOrigins) to the policy's, once each.
func (v *validator) corsOrigins(p *Policy) {
	for i, o := range v.opts.CORSOrigins {
		if !origin(o) {
			v.fail(fmt.Sprintf("XDS_CORS_ALLOW_ORIGINS[%d]", i), "want an origin such as https://shop.example:8443 (scheme, host, optional port; no path, no wildcard), got %q", o)
			continue
		}
		if !slices.Contains(p.CORS.AllowOrigins, o) {
			p.CORS.AllowOrigins = append(p.CORS.AllowOrigins, o)
		}
	}
}

func (v *validator) jwt(p *Policy) {
	j := p.JWT
	if j.Provider == "" {
		v.fail("jwt.provider", "a provider name is required")
	}
	if j.Issuer == "" {
		v.fail("jwt.issuer", "an issuer is required")
	}
	if len(j.Audiences) == 0 {
		v.fail("jwt.audiences", "at least one audience is required")
	}
	if u, err := url.Parse(j.JWKS.URI); err != nil || u.Scheme != "https" || u.Host == "" {
		v.fail("jwt.jwks.uri", "want an https:// URL, got %q", j.JWKS.URI)
	}
	if _, ok := p.Clusters[j.JWKS.Cluster]; !ok {
		v.fail("jwt.jwks.cluster", "%q is not a declared cluster (declared: %s)", j.JWKS.Cluster, strings.Join(p.ClusterNames(), ", "))
	}
	v.positive("jwt.jwks.timeout", j.JWKS.Timeout)
	v.wholeSeconds("jwt.jwks.cache_duration", j.JWKS.CacheDuration)
	v.header("jwt.forward_payload_header", j.ForwardPayloadHeader)
}

func (v *validator) cors(c CORS) {
	for i, o := range c.AllowOrigins {
		if !origin(o) {
			v.fail(fmt.Sprintf("cors.allow_origins[%d]", i), "want an origin such as https://shop.example:8443 (scheme, host, optional port; no path, no wildcard), got %q", o)
		}
	}
	for i, m := range c.AllowMethods {
		if !methodName.MatchString(m) {
			v.fail(fmt.Sprintf("cors.allow_methods[%d]", i), "want an upper-case HTTP method, got %q", m)
		}
	}
	for i, h := range c.AllowHeaders {
		v.header(fmt.Sprintf("cors.allow_headers[%d]", i), h)
	}
	for i, h := range c.ExposeHeaders {
		v.header(fmt.Sprintf("cors.expose_headers[%d]", i), h)
	}
	v.wholeSeconds("cors.max_age", c.MaxAge)
}

func (v *validator) cluster(name string, c Cluster, ids map[string]string, defaultsErrs *Errors) {
	path := "clusters." + name
	if !clusterName.MatchString(name) || len(name) > 63 {
		v.fail(path, "cluster name %q must match %s (at most 63 characters)", name, clusterName)
	}
	id, err := spiffeid.FromString(c.SPIFFEID)
	switch {
	case c.SPIFFEID == "":
		v.fail(path+".spiffe_id", "the SPIFFE ID the cluster's endpoints present is required")
	case err != nil:
		v.fail(path+".spiffe_id", "%q is not a SPIFFE ID: %v", c.SPIFFEID, err)
	case !id.MemberOf(TrustDomain):
		v.fail(path+".spiffe_id", "%s is outside trust domain %s", id, TrustDomain)
	case ids[id.String()] != "":
		v.fail(path+".spiffe_id", "%s is already the ID of cluster %s", id, ids[id.String()])
	default:
		ids[id.String()] = name
	}
	// A problem of a value the cluster inherits from cluster_defaults is reported once, there.
	own := &validator{errs: &Errors{}, lines: v.lines, opts: v.opts}
	own.settings(path, c)
	for _, fe := range own.errs.List {
		_, set := v.lines[fe.Path]
		inherited := "cluster_defaults" + strings.TrimPrefix(fe.Path, path)
		if !set && slices.ContainsFunc(defaultsErrs.List, func(d *FieldError) bool { return d.Path == inherited }) {
			continue
		}
		v.errs.List = append(v.errs.List, fe)
	}
}

// settings checks a cluster's (or cluster_defaults') timeouts, retries and thresholds.
func (v *validator) settings(path string, c Cluster) {
	v.positive(path+".connect_timeout", c.ConnectTimeout)
	v.positive(path+".timeout", c.Timeout)
	v.retry(path+".retry", c.Retry)
	cb := c.CircuitBreaker
	for field, n := range map[string]uint32{"max_connections": cb.MaxConnections, "max_pending_requests": cb.MaxPendingRequests, "max_requests": cb.MaxRequests} {
		if n == 0 {
			v.fail(path+".circuit_breaker."+field, "must be at least 1 (0 would refuse every request)")
		}
	}
	od := c.OutlierDetection
	v.positive(path+".outlier_detection.interval", od.Interval)
	v.positive(path+".outlier_detection.base_ejection_time", od.BaseEjectionTime)
	if od.MaxEjectionPercent > 100 {
		v.fail(path+".outlier_detection.max_ejection_percent", "%d is more than 100", od.MaxEjectionPercent)
	}
}

func (v *validator) retry(path string, r Retry) {
	if r.NumRetries > 10 {
		v.fail(path+".num_retries", "%d retries would multiply load in an outage; at most 10", r.NumRetries)
	}
	v.positive(path+".per_try_timeout", r.PerTryTimeout)
	v.positive(path+".backoff.base", r.Backoff.Base)
	if r.Backoff.Max < r.Backoff.Base {
		v.fail(path+".backoff.max", "%s is shorter than backoff.base %s", r.Backoff.Max.D(), r.Backoff.Base.D())
	}
	if len(r.RetryOn) == 0 && r.NumRetries > 0 {
		v.fail(path+".retry_on", "at least one retry condition is required")
	}
	if slices.Contains(r.RetryOn, "retriable-status-codes") && len(r.RetriableStatusCodes) == 0 {
		v.fail(path+".retriable_status_codes", "retry_on has retriable-status-codes but no codes are listed")
	}
	for i, code := range r.RetriableStatusCodes {
		if code < 500 || code > 599 {
			v.fail(fmt.Sprintf("%s.retriable_status_codes[%d]", path, i), "%d: only 5xx statuses may be retried", code)
		}
	}
	for i, cond := range r.RetryOn {
		if !slices.Contains(retryOn, cond) {
			v.fail(fmt.Sprintf("%s.retry_on[%d]", path, i), "%q is not an Envoy retry condition (one of %s)", cond, strings.Join(retryOn, ", "))
		}
	}
}

func (v *validator) routes(p *Policy) {
	seen := map[string]string{}
	for i := range p.Routes {
		v.route(p, &p.Routes[i], fmt.Sprintf("routes[%d]", i), seen)
	}
	if len(p.Routes) == 0 {
		v.fail("routes", "at least one route is required")
	}
}

func (v *validator) route(p *Policy, r *Route, path string, seen map[string]string) {
	switch {
	case (r.Path == "") == (r.Prefix == ""):
		v.fail(path, "exactly one of path or prefix is required")
		return
	case r.Path != "":
		if _, ok := methods()[r.Path]; !ok {
			v.fail(path+".path", "%q is not a method of the Mercato contracts (want /<package>.<Service>/<Method>)", r.Path)
			return
		}
	default:
		if svc := strings.Trim(r.Prefix, "/"); !strings.HasPrefix(r.Prefix, "/") || !strings.HasSuffix(r.Prefix, "/") || len(methodsUnder(*r)) == 0 || strings.Contains(svc, "/") {
			v.fail(path+".prefix", "%q is not a service of the Mercato contracts (want /<package>.<Service>/)", r.Prefix)
			return
		}
	}
	covered := methodsUnder(*r)
	v.routeTarget(p, r, path, covered, seen)
	v.routeTiming(p, r, path, covered)
	v.routeLimits(p, r, path)
}

// minFillInterval is the shortest token bucket fill interval Envoy accepts.
const minFillInterval = 50 * time.Millisecond

// routeLimits decides the route's body limit and checks its rate limit.
func (v *validator) routeLimits(p *Policy, r *Route, path string) {
	if r.MaxRequestBytes == 0 {
		r.MaxRequestBytes = p.RouteDefaults.MaxRequestBytes
	}
	rl := r.RateLimit
	if rl == nil {
		return
	}
	if rl.MaxTokens == 0 {
		v.fail(path+".rate_limit.max_tokens", "must be at least 1")
	}
	if rl.TokensPerFill == 0 {
		rl.TokensPerFill = 1
	}
	if rl.FillInterval.D() < minFillInterval {
		v.fail(path+".rate_limit.fill_interval", "must be at least %s, got %s", minFillInterval, rl.FillInterval.D())
	}
}

func (v *validator) routeTarget(p *Policy, r *Route, path string, covered []method, seen map[string]string) {
	for _, m := range covered {
		if slices.Contains(p.Private, m.procedure) {
			v.fail(path, "%s is listed under private: it must never be routed", m.procedure)
		}
		if prev, dup := seen[m.procedure]; dup {
			v.fail(path, "%s is already routed by %s", m.procedure, prev)
		}
		seen[m.procedure] = path
	}
	if _, ok := p.Clusters[r.Cluster]; !ok {
		v.fail(path+".cluster", "%q is not a declared cluster (declared: %s)", r.Cluster, strings.Join(p.ClusterNames(), ", "))
	} else if pkg := covered[0].pkg; !strings.HasPrefix(pkg, "mercato."+r.Cluster+".") {
		v.fail(path+".cluster", "%s (package %s) is not served by cluster %s", r.Match(), pkg, r.Cluster)
	}
	if r.Auth != Anonymous && r.Auth != RequireJWT {
		v.fail(path+".auth", "want %q or %q, got %q", Anonymous, RequireJWT, r.Auth)
	}
}

// routeTiming decides the route's timeout (its own, else its cluster's) and whether it
// retries: only when every method it matches is a read without side effects.
func (v *validator) routeTiming(p *Policy, r *Route, path string, covered []method) {
	c := p.Clusters[r.Cluster]
	if r.Timeout == 0 {
		r.Timeout = c.Timeout
	}
	safe := true
	for _, m := range covered {
		safe = safe && m.safe
	}
	switch {
	case r.Retry == nil:
		r.Retry = &safe
	case *r.Retry && !safe:
		v.fail(path+".retry", "%s has side effects (its idempotency_level is not NO_SIDE_EFFECTS): the edge retries only reads", r.Match())
	}
	if *r.Retry && c.Retry.NumRetries > 0 && c.Retry.PerTryTimeout > r.Timeout {
		v.fail(path+".timeout", "%s is shorter than cluster %s's retry.per_try_timeout %s", r.Timeout.D(), r.Cluster, c.Retry.PerTryTimeout.D())
	}
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.fail(path, "must be a positive duration, got %s", d.D())
	}
}

func (v *validator) wholeSeconds(path string, d Duration) {
	if d < 0 || d.D()%time.Second != 0 {
		v.fail(path, "must be a whole, non-negative number of seconds, got %s", d.D())
	}
}

func (v *validator) header(path, h string) {
	if !headerName.MatchString(h) {
		v.fail(path, "want a lower-case HTTP header name, got %q", h)
	}
}

func origin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		!strings.Contains(u.Host, "*") && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !dnsLabel.MatchString(label) {
			return false
		}
	}
	return true
}
