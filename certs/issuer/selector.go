package issuer

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Selector kinds, as SPIRE's unix workload attestor names them.
const (
	selectorPath = "path"
	selectorUID  = "uid"
	selectorGID  = "gid"
)

// selector is one parsed "unix:<kind>:<value>" selector.
type selector struct {
	kind  string
	value string
}

func (s selector) String() string { return "unix:" + s.kind + ":" + s.value }

// parseSelector parses "unix:path:<file>", "unix:uid:<n>" or "unix:gid:<n>".
func parseSelector(raw string) (selector, error) {
	rest, ok := strings.CutPrefix(raw, "unix:")
	if !ok {
		return selector{}, fmt.Errorf("selector %q: only unix selectors are supported", raw)
	}
	kind, value, ok := strings.Cut(rest, ":")
	if !ok || value == "" {
		return selector{}, fmt.Errorf("selector %q: want unix:<kind>:<value>", raw)
	}
	switch kind {
	case selectorPath:
		return selector{kind: kind, value: value}, nil
	case selectorUID, selectorGID:
		if _, err := strconv.ParseUint(value, 10, 32); err != nil {
			return selector{}, fmt.Errorf("selector %q: %s is not a number: %w", raw, kind, err)
		}
		return selector{kind: kind, value: value}, nil
	default:
		return selector{}, fmt.Errorf("selector %q: unknown kind %q (want path, uid or gid)", raw, kind)
	}
}

// canonical returns the selector in the form a caller's attributes take:
// paths absolute (relative ones joined to root) with symbolic links resolved.
func (s selector) canonical(root string) selector {
	if s.kind != selectorPath {
		return s
	}
	p := s.value
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	return selector{kind: selectorPath, value: resolveLinks(p)}
}

// resolveLinks resolves symbolic links in p as far as the file system allows:
// the file itself, else its directory (a binary may not be built yet).
func resolveLinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return filepath.Clean(p)
}
