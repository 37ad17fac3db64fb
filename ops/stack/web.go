package stack

import (
	"os"
	"path/filepath"

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

// webURL is what the summary prints: the default address as the allowed origin's name; another
// address with a reminder that the edge must allow its origin.
func webURL() string {
	if a := WebAddr(); a != storefront.DefaultAddr {
		return "http://" + a + " (the edge answers it only if edge/routes.yaml's cors.allow_origins lists it)"
	}
	return "http://localhost:5173 (the web shop; it calls the edge)"
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
