package password_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// TestDummyCostsAVerifyAndMatchesNothing: the hash an unknown email is checked against has the
// hasher's parameters, salt and hash lengths (so Verify derives exactly as for a real hash: the
// same timing), a fresh random salt and hash each time, matches no password, and costs nothing
// to make.
func TestDummyCostsAVerifyAndMatchesNothing(t *testing.T) {
	t.Parallel()
	p := password.Params{Memory: 8 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := newHasher(t, p, 1)
	real, err := h.Hash(t.Context(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dummy := h.Dummy()
	made := time.Since(start)
	shape := func(enc string) string { // the parameters and the lengths of salt and hash
		parts := strings.Split(enc, "$")
		if len(parts) != 6 {
			return "not a PHC string: " + enc
		}
		return strings.Join(parts[:4], "$") + "$" + strings.Repeat("s", len(parts[4])) + "$" + strings.Repeat("h", len(parts[5]))
	}
	if shape(dummy) != shape(real) {
		t.Errorf("dummy %q does not have the shape of a real hash %q", dummy, real)
	}
	if other := h.Dummy(); other == dummy {
		t.Error("two dummies are equal: salt and hash must be random")
	}
	for _, pw := range []string{"", "correct horse", dummy} {
		if ok, err := h.Verify(t.Context(), pw, dummy); ok || err != nil {
			t.Errorf("Verify(%q, dummy) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	// The same work: median of alternating verifications, far apart only if one skips hashing.
	var dummyTimes, realTimes []time.Duration
	for range 7 {
		for _, enc := range []string{dummy, real} {
			start := time.Now()
			if _, err := h.Verify(t.Context(), "wrong password", enc); err != nil {
				t.Fatal(err)
			}
			if enc == dummy {
				dummyTimes = append(dummyTimes, time.Since(start))
			} else {
				realTimes = append(realTimes, time.Since(start))
			}
		}
	}
	slices.Sort(dummyTimes)
	slices.Sort(realTimes)
	d, r := dummyTimes[3], realTimes[3]
	t.Logf("Verify median: dummy %v, real %v; Dummy() took %v", d, r, made)
	if d < r/3 || d > 3*r {
		t.Errorf("Verify against the dummy takes %v, against a real hash %v: an unknown email would be told apart by timing", d, r)
	}
	if made > r/10 {
		t.Errorf("Dummy took %v, a verification %v: it must not hash", made, r)
	}
}

// retained is the memory the Go runtime holds from the OS (mapped and not released).
func retained() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// TestMemoryIsReturnedAfterEveryBurst: the end of each burst of hashes hands the hashes' memory
// back to the OS, a burst that ends soon after the previous release too (later, not never).
// Not parallel: it measures the process's memory.
func TestMemoryIsReturnedAfterEveryBurst(t *testing.T) {
	p := password.Params{Memory: 32 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := newHasher(t, p, 1)
	const every = 1500 * time.Millisecond // longer than a 32 MiB hash, even on a busy machine
	password.SetReleaseEvery(h, every)
	debug.FreeOSMemory()
	before := retained()
	for burst := range 2 { // the second ends within `every` of the first's release
		if _, err := h.Hash(t.Context(), "burst"); err != nil {
			t.Fatal(err)
		}
		if burst == 0 {
			time.Sleep(20 * time.Millisecond) // the first release runs at once
		}
	}
	deadline := time.Now().Add(every + 2*time.Second)
	for retained() > before+16<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d MiB still held %v after the last burst (before: %d MiB): its memory was not returned",
				retained()>>20, every+2*time.Second, before>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("held %d MiB before, %d MiB after two bursts of one 32 MiB hash", before>>20, retained()>>20)
}

// statusKiB reads a "VmXxx:   123 kB" line of /proc/self/status.
func statusKiB(t testing.TB, field string) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &n); err == nil {
				return n
			}
		}
	}
	t.Skip("no " + field + " in /proc/self/status")
	return 0
}

// TestHashingMemoryIsBoundedBySlots: many concurrent hashes hold at most slots × Params.Memory
// at once — finished hashes' garbage is collected before the next hash allocates, rather than
// left for a collector that waits for the heap to double — without any memory limit set.
// Not parallel: it measures the process's peak RSS.
func TestHashingMemoryIsBoundedBySlots(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory counts in the RSS")
	}
	const slots, mib = 2, 32
	h := newHasher(t, password.Params{Memory: mib << 10, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, slots)
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil { // resets VmHWM
		t.Skip("cannot reset the peak RSS:", err)
	}
	base := statusKiB(t, "VmRSS")
	var wg sync.WaitGroup
	for range 4 * slots {
		wg.Go(func() {
			for range 3 {
				if _, err := h.Hash(context.Background(), "password"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	peak := statusKiB(t, "VmHWM")
	t.Logf("24 hashes of %d MiB on %d slots: peak RSS %d MiB above the %d MiB before", mib, slots, (peak-base)>>10, base>>10)
	if limit := int64(slots*mib+mib/2) << 10; peak-base > limit {
		t.Errorf("peak RSS grew by %d MiB, more than %d slots × %d MiB (+%d MiB slack)", (peak-base)>>10, slots, mib, mib/2)
	}
}

// BenchmarkServerHashes runs GOMAXPROCS hashers' worth of concurrent Hash calls with the server
// parameters and reports the process's peak RSS (VmHWM, reset before the run), under the soft
// memory limit the service sets (cmd/customers limitMemory: the slots' hashes plus 64 MiB).
func BenchmarkServerHashes(b *testing.B) {
	slots := runtime.GOMAXPROCS(0)
	h, err := password.New(password.ServerParams, slots)
	if err != nil {
		b.Fatal(err)
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(slots)*int64(password.ServerParams.Memory)<<10 + 64<<20))
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM (Linux)
	b.SetParallelism(4)                                       // more callers than slots
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(context.Background(), "correct horse"); err != nil {
				b.Error(err)
			}
		}
	})
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(statusKiB(b, "VmHWM"))/1024, "peak-MiB")
}
