package main

import (
	"io"
	"testing"
	"time"
)

func TestSteps(t *testing.T) {
	t.Parallel()
	o, err := parse([]string{"-steps", "product:c16,orders:c1,orders:r350,orders:r300:lag", "-duration", "3s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, kind, mode string
		c                int
		rate             float64
		lag              bool
	}{
		{"product closed c=16", "product", "closed", 16, 0, false},
		{"orders closed c=1", "orders", "closed", 1, 0, false},
		{"orders open 350/s", "orders", "open", 0, 350, false},
		{"orders open 300/s", "orders", "open", 0, 300, true},
	}
	if len(o.steps) != len(want) {
		t.Fatalf("steps = %+v", o.steps)
	}
	for i, w := range want {
		s := o.steps[i]
		if s.Name != w.name || s.Kind != w.kind || s.Mode != w.mode || s.Concurrency != w.c || s.Rate != w.rate || s.Lag != w.lag || s.Duration != 3*time.Second {
			t.Errorf("step %d = %+v, want %+v", i, s, w)
		}
	}
	for _, bad := range []string{"orders", "orders:x5", "orders:c0", "shipping:c1", "orders:c1:fast", "orders:c"} {
		if _, err := parse([]string{"-steps", bad}, io.Discard); err == nil {
			t.Errorf("-steps %q accepted", bad)
		}
	}
	if o, err := parse([]string{"-mode", "product", "-c", "1,8"}, io.Discard); err != nil || len(o.steps) != 2 || o.steps[1].Concurrency != 8 {
		t.Errorf("-mode product -c 1,8: %+v, %v", o.steps, err)
	}
}
