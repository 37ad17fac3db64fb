// Package alerts reads Prometheus rule files (ops/compose/alerts.yaml) and names the metrics
// their PromQL expressions select, so that tests can check every alert against what the
// platform exports.
package alerts

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// File is a Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// Group is a named list of rules.
type Group struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is one alerting rule (recording rules are not used here).
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Load parses the rule file at path strictly (unknown fields are errors) and checks each rule:
// a unique alert name, an expression, a valid `for`, a severity of critical or warning and a
// summary.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	var errs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if msg := r.check(); msg != "" {
				errs = append(errs, fmt.Sprintf("%s/%s: %s", g.Name, r.Alert, msg))
			}
			if seen[r.Alert] {
				errs = append(errs, fmt.Sprintf("%s: alert %q twice", g.Name, r.Alert))
			}
			seen[r.Alert] = true
		}
	}
	if len(seen) == 0 {
		errs = append(errs, "no rules")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", path, strings.Join(errs, "; "))
	}
	return &f, nil
}

func (r Rule) check() string {
	switch {
	case r.Alert == "":
		return "no alert name"
	case strings.TrimSpace(r.Expr) == "":
		return "no expr"
	case r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning":
		return "severity must be critical or warning"
	case r.Annotations["summary"] == "":
		return "no summary annotation"
	case strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")"):
		return "unbalanced parentheses in expr"
	}
	if r.For != "" {
		if _, err := time.ParseDuration(r.For); err != nil {
			return "for: " + err.Error()
		}
	}
	return ""
}

// Metrics lists, sorted, the metric names the file's expressions select.
func (f *File) Metrics() []string {
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, MetricNames(r.Expr)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var (
	stringLit   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	matchers    = regexp.MustCompile(`\{[^}]*\}`)
	ranges      = regexp.MustCompile(`\[[^\]]*\]`)
	numbers     = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?`)
	labelLists  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifiers = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	keywords    = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
	}
)

// MetricNames lists the metric names a PromQL expression selects: identifiers that are not
// functions or aggregations (followed by a parenthesis), keywords, label names in matchers or
// grouping clauses, numbers, durations or string literals. Histogram series name their family
// (x_bucket, x_count and x_sum give x).
func MetricNames(expr string) []string {
	e := stringLit.ReplaceAllString(expr, `""`)
	e = matchers.ReplaceAllString(e, " ")
	e = ranges.ReplaceAllString(e, " ")
	e = labelLists.ReplaceAllString(e, " ")
	e = numbers.ReplaceAllString(e, "$1 ")
	var out []string
	for _, m := range identifiers.FindAllString(e, -1) {
		if strings.HasSuffix(m, "(") {
			continue // a function or aggregation
		}
		name := strings.TrimSpace(m)
		if keywords[strings.ToLower(name)] {
			continue
		}
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			name = strings.TrimSuffix(name, suffix)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
