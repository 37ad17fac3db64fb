package issuer

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// caStore keeps the CA authorities across restarts.
type caStore interface {
	load() ([]*authority, error)
	save([]*authority) error
}

// memoryStore keeps nothing: a fresh CA on every start (tests).
type memoryStore struct{}

func (memoryStore) load() ([]*authority, error) { return nil, nil }
func (memoryStore) save([]*authority) error     { return nil }

// fileStore keeps the authorities in one JSON file, readable by the owner
// only, in a directory readable by the owner only.
type fileStore struct {
	path string
}

const (
	stateDirMode  = 0o700
	stateFileMode = 0o600
	stateFileName = "authorities.json"
)

var (
	_ caStore = memoryStore{}
	_ caStore = (*fileStore)(nil)
)

// openFileStore creates dir (0700; missing parents 0755) and tightens it
// when looser.
func openFileStore(dir string) (*fileStore, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("create CA state dir: %w", err)
	}
	if err := os.Mkdir(dir, stateDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create CA state dir: %w", err)
	}
	if err := os.Chmod(dir, stateDirMode); err != nil {
		return nil, fmt.Errorf("restrict CA state dir: %w", err)
	}
	return &fileStore{path: filepath.Join(dir, stateFileName)}, nil
}

// storedAuthority is the on-disk form of an authority.
type storedAuthority struct {
	Certificate string    `json:"certificate"` // PEM
	PrivateKey  string    `json:"private_key"` // PEM, PKCS #8
	ActivateAt  time.Time `json:"activate_at"`
	SignedUntil time.Time `json:"signed_until"`
}

type stateFile struct {
	Authorities []storedAuthority `json:"authorities"`
}

func (s *fileStore) load() ([]*authority, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read CA state: %w", err)
	}
	var state stateFile
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, fmt.Errorf("decode CA state %s: %w", s.path, err)
	}
	auths := make([]*authority, 0, len(state.Authorities))
	for n, sa := range state.Authorities {
		a, err := sa.authority()
		if err != nil {
			return nil, fmt.Errorf("CA state %s, authority %d: %w", s.path, n+1, err)
		}
		auths = append(auths, a)
	}
	return auths, nil
}

// save replaces the state file atomically.
func (s *fileStore) save(auths []*authority) error {
	state := stateFile{Authorities: make([]storedAuthority, 0, len(auths))}
	for _, a := range auths {
		sa, err := storedFrom(a)
		if err != nil {
			return err
		}
		state.Authorities = append(state.Authorities, sa)
	}
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode CA state: %w", err)
	}
	return writeFileAtomic(s.path, data, stateFileMode)
}

func storedFrom(a *authority) (storedAuthority, error) {
	der, err := x509.MarshalPKCS8PrivateKey(a.key)
	if err != nil {
		return storedAuthority{}, fmt.Errorf("encode CA key: %w", err)
	}
	return storedAuthority{
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})),
		PrivateKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		ActivateAt:  a.activateAt,
		SignedUntil: a.signedUntil,
	}, nil
}

func (sa storedAuthority) authority() (*authority, error) {
	cert, err := x509.ParseCertificate(pemBytes(sa.Certificate))
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(pemBytes(sa.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("private key is not the certificate's ECDSA key")
	}
	return &authority{cert: cert, key: key, activateAt: sa.ActivateAt, signedUntil: sa.SignedUntil}, nil
}

// pemBytes returns the first PEM block's bytes, or nil.
func pemBytes(s string) []byte {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil
	}
	return block.Bytes
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// over path, so a crash leaves either the old or the new state.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	err = errors.Join(tmp.Chmod(mode), write(tmp, data), tmp.Sync(), tmp.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func write(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}
