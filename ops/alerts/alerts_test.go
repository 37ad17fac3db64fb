package alerts_test

import (
	"slices"
	"testing"

	"mercato.dev/ops/alerts"
)

func TestMetricNames(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`svid_expires_in_seconds < 0.25 * svid_lifetime_seconds`:                                               {"svid_expires_in_seconds", "svid_lifetime_seconds"},
		`sum by (job) (rate(edge_request_duration_seconds_count{code=~"5.."}[5m])) / sum(rate(x_total[5m]))`:   {"edge_request_duration_seconds", "x_total"},
		`histogram_quantile(0.99, sum by (le, consumer) (rate(lag_seconds_bucket[5m]))) > 30 or pending > 1e3`: {"lag_seconds", "pending"},
		`increase(saga_outcomes_total{reason="REJECT_REASON_X"}[10m]) > 0`:                                     {"saga_outcomes_total"},
		`a == on (job) group_left (instance) b unless c offset 5m`:                                             {"a", "b", "c"},
	}
	for expr, want := range cases {
		if got := alerts.MetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("MetricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}
