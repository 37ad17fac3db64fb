package issuer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"gopkg.in/yaml.v3"
)

// Entry is a registration entry: a caller whose attributes match every one
// of Selectors receives an X.509-SVID for ID.
type Entry struct {
	ID        spiffeid.ID
	Selectors []string // "unix:path:bin/orders", "unix:uid:1000", "unix:gid:1000"
}

// entriesFile is the YAML shape of registrations.yaml.
type entriesFile struct {
	Entries []entryYAML `yaml:"entries"`
}

type entryYAML struct {
	SPIFFEID  string   `yaml:"spiffe_id"`
	Selectors []string `yaml:"selectors"`
}

// LoadEntries reads and validates a registrations file.
func LoadEntries(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	entries, err := ParseEntries(data)
	if err != nil {
		return nil, fmt.Errorf("registrations %s: %w", path, err)
	}
	return entries, nil
}

// ParseEntries parses and validates the contents of a registrations file.
// Unknown fields, invalid IDs or selectors, duplicate entries and an empty
// list are errors.
func ParseEntries(data []byte) ([]Entry, error) {
	var file entriesFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(file.Entries) == 0 {
		return nil, errors.New("no entries")
	}
	entries := make([]Entry, 0, len(file.Entries))
	for n, raw := range file.Entries {
		e, err := raw.entry()
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", n+1, err)
		}
		entries = append(entries, e)
	}
	return entries, checkDuplicates(entries)
}

func (y entryYAML) entry() (Entry, error) {
	id, err := spiffeid.FromString(y.SPIFFEID)
	if err != nil {
		return Entry{}, fmt.Errorf("spiffe_id %q: %w", y.SPIFFEID, err)
	}
	e := Entry{ID: id, Selectors: y.Selectors}
	return e, e.Validate()
}

// Validate reports whether the entry has an ID and at least one selector,
// each of a known kind and none repeated.
func (e Entry) Validate() error {
	if e.ID.IsZero() {
		return errors.New("missing SPIFFE ID")
	}
	if len(e.Selectors) == 0 {
		return fmt.Errorf("%s: no selectors (an entry without selectors would match every caller)", e.ID)
	}
	seen := make(map[string]bool, len(e.Selectors))
	for _, s := range e.Selectors {
		if _, err := parseSelector(s); err != nil {
			return fmt.Errorf("%s: %w", e.ID, err)
		}
		if seen[s] {
			return fmt.Errorf("%s: selector %q repeated", e.ID, s)
		}
		seen[s] = true
	}
	return nil
}

// checkDuplicates refuses two entries with the same ID and the same selectors.
func checkDuplicates(entries []Entry) error {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		sel := slices.Clone(e.Selectors)
		slices.Sort(sel)
		key := e.ID.String() + "\x00" + strings.Join(sel, "\x00")
		if seen[key] {
			return fmt.Errorf("%s: duplicate entry", e.ID)
		}
		seen[key] = true
	}
	return nil
}
