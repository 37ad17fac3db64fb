package ratelimit_test

import (
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/edge/internal/ratelimit"
)

var all = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}}

func TestBucketRefusesWhenEmptyAndRefills(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(&localratelimitv3.LocalRateLimit{
		StatPrefix:    "t",
		TokenBucket:   &typev3.TokenBucket{MaxTokens: 3, TokensPerFill: wrapperspb.UInt32(2), FillInterval: durationpb.New(100 * time.Millisecond)},
		FilterEnabled: all, FilterEnforced: all,
	})
	if err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for range 10 {
		if l.Allow() {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("%d of 10 allowed at once, want the bucket's 3", allowed)
	}
	start := time.Now()
	for !l.Allow() {
		if time.Since(start) > 2*time.Second {
			t.Fatal("no token 2s after the bucket emptied (fill interval 100ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("a token came back after %s (fill interval 100ms)", time.Since(start).Round(time.Millisecond))
}

func TestNotEnforcedOnlyCounts(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(&localratelimitv3.LocalRateLimit{
		StatPrefix:    "t",
		TokenBucket:   &typev3.TokenBucket{MaxTokens: 1, FillInterval: durationpb.New(time.Hour)},
		FilterEnabled: all,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if !l.Allow() {
			t.Fatalf("request %d refused with filter_enforced 0%%", i)
		}
	}
	if _, err := ratelimit.New(&localratelimitv3.LocalRateLimit{StatPrefix: "t", TokenBucket: &typev3.TokenBucket{MaxTokens: 1, FillInterval: durationpb.New(time.Millisecond)}}); err == nil {
		t.Error("a 1ms fill interval was accepted")
	}
}
