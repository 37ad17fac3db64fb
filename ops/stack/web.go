package stack

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"mercato.dev/ops/storefront"
)

// WebAddr is where `mercato up` serves the storefront (WEB_ADDR); its origin, http://localhost:5173
// by default, is among the edge's allowed CORS origins in edge/routes.yaml.
func WebAddr() string {
	if a := os.Getenv("WEB_ADDR"); a != "" {
		return a
	}
	return storefront.DefaultAddr
}

// webURL is what the summary prints: the default address under localhost, as routes.yaml names it.
func webURL() string {
	if a := WebAddr(); a != storefront.DefaultAddr {
		return "http://" + a
	}
	return "http://localhost:5173"
}

// WebOrigins is what the launcher adds to the control plane's XDS_CORS_ALLOW_ORIGINS: nothing
// for the default address (routes.yaml allows http://localhost:5173 and http://127.0.0.1:5173),
// else the storefront's origin under its address and, on loopback, under localhost.
func WebOrigins() []string {
	addr := WebAddr()
	if addr == storefront.DefaultAddr {
		return nil
	}
	origins := []string{"http://" + addr}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "127.0.0.1" || host == "::1") {
		origins = append(origins, "http://localhost:"+port)
	}
	return origins
}

// corsOriginsEnv is XDS_CORS_ALLOW_ORIGINS for the control plane: the caller's, plus WebOrigins.
func corsOriginsEnv() []string {
	all := slices.DeleteFunc(append(strings.Split(os.Getenv("XDS_CORS_ALLOW_ORIGINS"), ","), WebOrigins()...), func(o string) bool { return strings.TrimSpace(o) == "" })
	if len(all) == 0 {
		return nil
	}
	return []string{"XDS_CORS_ALLOW_ORIGINS=" + strings.Join(all, ",")}
}

// storefrontComponent is bin/storefront serving <root>/web/dist to call the edge at
// addrs.PublicURL(), or false when the bundle has not been built (npm ci && npm run -w web
// build; `make up` does it).
func storefrontComponent(root string, addrs Addrs) (Component, bool) {
	dir := filepath.Join(root, "web", "dist")
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return Component{}, false
	}
	return Component{
		Env:   []string{"WEB_ADDR=" + WebAddr(), "WEB_DIR=" + dir, "WEB_EDGE_URL=" + addrs.PublicURL()},
		Ready: HTTPReady("http://" + WebAddr() + "/healthz"),
	}, true
}
