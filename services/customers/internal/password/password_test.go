package password_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mercato.dev/services/customers/internal/password"
)

func newHasher(t *testing.T, p password.Params, concurrency int) *password.Hasher {
	t.Helper()
	h, err := password.New(p, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashIsPHCArgon2idWithPerUserSalt(t *testing.T) {
	t.Parallel()
	h := newHasher(t, password.TestParams, 2)
	a, err := h.Hash(t.Context(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(t.Context(), "correct horse")
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(a) {
		t.Errorf("hash %q is not a PHC argon2id string with the test parameters", a)
	}
	if a == b {
		t.Error("two hashes of one password are equal: the salt is not per hash")
	}
}

func TestServerParamsAreEncodedInTheHash(t *testing.T) {
	t.Parallel()
	h := newHasher(t, password.ServerParams, 1)
	enc, err := h.Hash(t.Context(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=65536,t=1,p=2$") {
		t.Errorf("hash %q does not carry the server parameters", enc)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	h := newHasher(t, password.TestParams, 2)
	enc, _ := h.Hash(t.Context(), "correct horse")
	stronger := password.TestParams
	stronger.Memory, stronger.Time = 128, 2
	other := newHasher(t, stronger, 1)
	tests := []struct {
		name     string
		hasher   *password.Hasher
		password string
		encoded  string
		want     bool
		wantErr  error
	}{
		{"right password", h, "correct horse", enc, true, nil},
		{"wrong password", h, "correct horsf", enc, false, nil},
		{"empty password", h, "", enc, false, nil},
		{"hash made with other parameters", other, "correct horse", enc, true, nil},
		{"bcrypt hash", h, "x", "$2a$12$abcdefghijklmnopqrstuu", false, password.ErrMalformedHash},
		{"bad version", h, "x", strings.Replace(enc, "v=19", "v=16", 1), false, password.ErrMalformedHash},
		{"bad base64", h, "x", enc[:len(enc)-2] + "!!", false, password.ErrMalformedHash},
		{"zero time", h, "x", strings.Replace(enc, "t=1", "t=0", 1), false, password.ErrMalformedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.hasher.Verify(t.Context(), tt.password, tt.encoded)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("Verify = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestConcurrencyIsBoundedAndWaitingHonoursTheDeadline(t *testing.T) {
	t.Parallel()
	slow := password.Params{Memory: 32 * 1024, Time: 4, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := newHasher(t, slow, 1)
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		_, _ = h.Hash(context.Background(), "holds the only slot")
	}()
	time.Sleep(20 * time.Millisecond) // let it take the slot
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "waits"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second hash while the only slot is busy: got %v, want deadline exceeded", err)
	}
	<-busy
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]password.Params{
		"zero time":    {Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		"tiny memory":  {Memory: 8, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		"short salt":   {Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 32},
		"zero threads": {Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		"short hash":   {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
	} {
		if _, err := password.New(p, 1); err == nil {
			t.Errorf("%s: New accepted %+v", name, p)
		}
	}
	if _, err := password.New(password.TestParams, 0); err == nil {
		t.Error("New accepted concurrency 0")
	}
}

// TestQueueIsBounded: with every slot busy, at most 8 hashes per slot wait; more are refused
// with ErrBusy at once instead of queueing without bound.
func TestQueueIsBounded(t *testing.T) {
	t.Parallel()
	h, err := password.New(password.Params{Memory: 16 * 1024, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var busy atomic.Int64
	for range 40 {
		wg.Go(func() {
			if _, err := h.Hash(t.Context(), "password"); errors.Is(err, password.ErrBusy) {
				busy.Add(1)
			} else if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("40 concurrent hashes on 1 slot: %d refused as busy", busy.Load())
	if busy.Load() == 0 || busy.Load() > 40-9 {
		t.Errorf("%d refused, want some and at most 31 (1 running + 8 waiting admitted)", busy.Load())
	}
}
