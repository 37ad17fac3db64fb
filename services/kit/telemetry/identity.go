package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/services/kit/identity"
)

// BuildInfo exports mercato_build_info{service, version} = 1.
func (m *Metrics) BuildInfo(service string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mercato_build_info",
		Help: "Always 1; the labels name the service and its build version (-ldflags).",
	}, []string{"service", "version"})
	g.WithLabelValues(service, Version).Set(1)
	m.Registry.MustRegister(g)
}

// WatchSVID exports, read at each scrape, how long this process's SVID and the earliest-expiring
// root of its trust bundle have left, and the SVID's whole lifetime (for ratios in alerts):
// svid_expires_in_seconds, svid_lifetime_seconds and trust_bundle_expires_in_seconds. A missing
// SVID or bundle reads 0, which alerts as expired.
func (m *Metrics) WatchSVID(src identity.Source) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "svid_expires_in_seconds",
			Help: "Seconds until this process's X.509 SVID expires (0 when it has none).",
		}, func() float64 {
			svid, err := src.GetX509SVID()
			if err != nil {
				return 0
			}
			return max(time.Until(svid.Certificates[0].NotAfter).Seconds(), 0)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "svid_lifetime_seconds",
			Help: "Whole validity period of this process's current X.509 SVID.",
		}, func() float64 {
			svid, err := src.GetX509SVID()
			if err != nil {
				return 0
			}
			leaf := svid.Certificates[0]
			return leaf.NotAfter.Sub(leaf.NotBefore).Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "trust_bundle_expires_in_seconds",
			Help: "Seconds until the earliest-expiring root of the trust domain's bundle expires (0 when there is none).",
		}, func() float64 {
			b, err := src.GetX509BundleForTrustDomain(identity.TrustDomain)
			if err != nil || len(b.X509Authorities()) == 0 {
				return 0
			}
			earliest := b.X509Authorities()[0].NotAfter
			for _, c := range b.X509Authorities()[1:] {
				if c.NotAfter.Before(earliest) {
					earliest = c.NotAfter
				}
			}
			return max(time.Until(earliest).Seconds(), 0)
		}),
	)
}
