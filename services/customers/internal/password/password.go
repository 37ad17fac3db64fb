// Package password hashes and verifies customer passwords with Argon2id, encoded in the PHC
// string format ($argon2id$v=19$m=65536,t=1,p=2$<salt>$<hash>), and bounds how many hashes run at
// once so that a burst of sign-ins cannot exhaust the process's memory.
//
// Why Argon2id rather than bcrypt: it is memory-hard (each guess costs Params.Memory of RAM, which
// is what makes GPU and ASIC cracking expensive), it is the first choice of RFC 9106 and OWASP's
// password storage guidance, and it takes the whole password, whereas bcrypt silently ignores
// everything after 72 bytes — and the API accepts passwords of up to 128 characters.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes of random salt per password
	KeyLen  uint32 // bytes of derived hash
}

// ServerParams suit a server: 64 MiB, one pass, two lanes (above OWASP's minimum of 46 MiB, t=1,
// p=1), about 50–100 ms per hash on one core of this platform's machines.
var ServerParams = Params{Memory: 64 * 1024, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}

// TestParams are tiny, for tests only: never use them for real passwords.
var TestParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Validate reports parameters Argon2id cannot use or that are too weak to mean anything.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Threads < 1:
		return errors.New("password: argon2 time and threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("password: argon2 memory must be at least 8 KiB per thread, got %d KiB", p.Memory)
	case p.SaltLen < 16 || p.KeyLen < 16:
		return errors.New("password: salt and key must be at least 16 bytes")
	}
	return nil
}

// ErrMalformedHash is returned by Verify for a stored hash it cannot parse.
var ErrMalformedHash = errors.New("password: malformed argon2id hash")

// ErrBusy means too many hashes are already waiting for a slot: the caller should come back
// later rather than queue without bound.
var ErrBusy = errors.New("password: too many hashes waiting")

// waitingPerSlot bounds the queue: this many hashes may wait for each slot.
const waitingPerSlot = 8

// releaseEvery bounds how often an idle hasher hands its memory back to the OS: the end of a
// burst that comes sooner after the last release is released that much later, never skipped.
const releaseEvery = 2 * time.Second

// Hasher hashes with one set of parameters and verifies hashes made with any.
type Hasher struct {
	params  Params
	slots   chan struct{}
	waiting atomic.Int64
	busy    atomic.Int64 // hashes waiting or running
	// finished counts the hashes done (their memory garbage); collected is finished as of the
	// last collection that started after them, under gcMu.
	finished  atomic.Int64
	gcMu      sync.Mutex
	collected int64

	mu           sync.Mutex
	released     time.Time     // the last release of memory to the OS
	pending      bool          // a release is scheduled
	releaseEvery time.Duration // releaseEvery; shorter in tests
}

// New returns a Hasher running at most concurrency hashes at once (each holds Params.Memory).
func New(p Params, concurrency int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if concurrency < 1 {
		return nil, errors.New("password: concurrency must be at least 1")
	}
	return &Hasher{params: p, slots: make(chan struct{}, concurrency), releaseEvery: releaseEvery}, nil
}

// Dummy returns a PHC string with this hasher's parameters, a random salt and a random hash,
// which no password matches (except with probability 2^-(8·KeyLen)): what to verify against when
// there is no stored hash, so that the check costs exactly what checking a real one costs — the
// same decoding, one Argon2id derivation with the same parameters, the same comparison. It hashes
// nothing, so it costs no time and no memory (a real hash of a random password would cost
// Params.Memory and one derivation, e.g. at start-up, for no more safety: the derived key is
// compared in constant time against bytes an attacker never sees either way).
func (h *Hasher) Dummy() string {
	salt, key := make([]byte, h.params.SaltLen), make([]byte, h.params.KeyLen)
	rand.Read(salt) // crypto/rand.Read never fails (it crashes the program instead)
	rand.Read(key)
	return encode(h.params, salt, key)
}

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, a PHC string from Hash (with any parameters).
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// derive runs Argon2id once a slot is free, or gives up when ctx ends or too many wait.
// Memory stays bounded by the slots (each hash holds Params.Memory while it runs).
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	h.busy.Add(1)
	defer h.idle()
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	h.collect()
	defer h.finished.Add(1)
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// collect frees the memory of the hashes finished so far before this one allocates its own, so
// that hashing holds at most slots × Params.Memory instead of more: a finished hash's memory is
// garbage that the collector has not freed yet (it runs only once the heap has grown). Hashes
// starting together wait for the same collection rather than skip it while it runs.
func (h *Hasher) collect() {
	h.gcMu.Lock()
	defer h.gcMu.Unlock()
	if n := h.finished.Load(); n > h.collected {
		runtime.GC()
		h.collected = n
	}
}

// acquire takes a slot: a free one at once, or else one after waiting in line, unless
// waitingPerSlot hashes per slot already wait (ErrBusy) or ctx ends first. A hash that finds a
// slot free never counts as waiting, so a burst admits every slot's hash plus the full line.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if n := h.waiting.Add(1); n > int64(waitingPerSlot*cap(h.slots)) {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
}

// idle ends one hash; the last one of a burst hands the hashes' memory (Params.Memory each,
// garbage once done) back to the OS, so that an idle service does not keep a burst's peak: at
// once, or releaseEvery after the previous release when that was sooner (a burst that ends
// within releaseEvery of the last release is released later, not skipped: skipping it kept
// 64–128 MiB of garbage in an idle service for minutes).
func (h *Hasher) idle() {
	if h.busy.Add(-1) != 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending {
		return
	}
	h.pending = true
	time.AfterFunc(max(0, h.releaseEvery-time.Since(h.released)), h.release)
}

// release hands freed memory back to the OS unless a new burst has started, whose end will
// schedule its own release.
func (h *Hasher) release() {
	h.mu.Lock()
	h.pending = false
	if h.busy.Load() != 0 {
		h.mu.Unlock()
		return
	}
	h.released = time.Now()
	h.mu.Unlock()
	n := h.finished.Load()
	debug.FreeOSMemory() // collects first: the next hash need not
	h.gcMu.Lock()
	h.collected = max(h.collected, n)
	h.gcMu.Unlock()
}

var b64 = base64.RawStdEncoding // the PHC format's unpadded standard base64

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("%w: version %q", ErrMalformedHash, parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformedHash, parts[3])
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(key) == 0 {
		return Params{}, nil, nil, fmt.Errorf("%w: salt or hash encoding", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if p.Time < 1 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	return p, salt, key, nil
}
