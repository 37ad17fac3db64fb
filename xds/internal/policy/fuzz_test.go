package policy_test

import (
	"os"
	"testing"

	"mercato.dev/xds/internal/policy"
)

// FuzzParse feeds arbitrary documents to the routes.yaml decoder: it never panics, and a
// document it accepts is accepted again with the same clusters (decoding is deterministic).
func FuzzParse(f *testing.F) {
	for _, path := range []string{"../../../edge/routes.yaml", "testdata/minimal.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("listener: {address: 0.0.0.0:8443}\nclusters: {a: &x {timeout: 1s}, b: *x}\n"))
	f.Add([]byte("a: [[[[[[[[[[[[]]]]]]]]]]]]\n---\nb: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(data, policy.Options{BaseDir: "/d"})
		if err != nil {
			return
		}
		again, err := policy.Parse(data, policy.Options{BaseDir: "/d"})
		if err != nil || len(again.ClusterNames()) != len(p.ClusterNames()) {
			t.Fatalf("accepted once, then %v", err)
		}
	})
}
