// Package model is prodcat's trained-model file: one versioned binary format
// holding the label set with category names, the fitted vectorizer, the
// linear weights, the training parameters and free-form lineage metadata,
// closed by a SHA-256 checksum that is verified on load. A loaded Model
// answers predictions and is safe for concurrent use.
//
// Layout: the 8-byte magic "PRODCATM", the format version as a varint, the
// body (see Encode), then the SHA-256 of everything before it.
package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/prodcat/prodcat/internal/wire"
)

const (
	magic = "PRODCATM"
	// Version is the format version this package writes. It reads this
	// one and version 1, whose linear model has no per-class calibration
	// and whose vectorizer (features version 1) has no title-end words.
	Version = 2
	// MaxFileBytes bounds what Read accepts.
	MaxFileBytes = 1 << 30
)

// Errors a caller may test for with errors.Is.
var (
	ErrNotModel = errors.New("not a prodcat model file")
	ErrChecksum = errors.New("checksum mismatch: the file is truncated or corrupted")
	ErrVersion  = errors.New("unsupported model format version")
)

// Label is one class of a model: its code (a prdtypecode for Rakuten) and,
// when known, its category names.
type Label struct {
	Code string `json:"code"`
	FR   string `json:"fr,omitempty"`
	EN   string `json:"en,omitempty"`
}

// Model is a trained classifier. Build it with fields set, or with Decode.
// After the first prediction it must not be modified.
type Model struct {
	Labels     []Label
	Vectorizer *features.Vectorizer
	Linear     *linear.Model
	// Params are the training parameters as JSON.
	Params json.RawMessage
	// Metadata is lineage the pipeline adds (dataset digest, git commit…).
	Metadata map[string]string

	pool sync.Pool // *scratch
}

// Validate checks that the parts of m fit together and that its weights
// keep every score finite.
func (m *Model) Validate() error {
	if err := m.checkParts(); err != nil {
		return err
	}
	if err := m.Linear.Validate(); err != nil {
		return fmt.Errorf("model: weights: %w", err)
	}
	return nil
}

// checkParts is Validate without the check of the weights, which
// linear.Model.Decode makes as it reads them.
func (m *Model) checkParts() error {
	switch {
	case m.Vectorizer == nil || m.Linear == nil:
		return errors.New("model: missing vectorizer or weights")
	case len(m.Labels) != m.Linear.Classes:
		return fmt.Errorf("model: %d labels for %d classes", len(m.Labels), m.Linear.Classes)
	case m.Vectorizer.NumFeatures() != m.Linear.Features:
		return fmt.Errorf("model: vectorizer has %d features, weights %d", m.Vectorizer.NumFeatures(), m.Linear.Features)
	case len(m.Params) > 0 && !json.Valid(m.Params):
		return errors.New("model: params are not valid JSON")
	case len(m.Metadata) > maxMetadata:
		return fmt.Errorf("model: %d metadata entries, more than %d", len(m.Metadata), maxMetadata)
	}
	seen := make(map[string]bool, len(m.Labels))
	for _, l := range m.Labels {
		if l.Code == "" || seen[l.Code] {
			return fmt.Errorf("model: empty or duplicate label %q", l.Code)
		}
		seen[l.Code] = true
	}
	return nil
}

// Encode returns the model file bytes. The same model always gives the same
// bytes (metadata is written in key order).
func (m *Model) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return m.encode(), nil
}

// encode is Encode without the checks.
func (m *Model) encode() []byte {
	w := wire.NewWriter(64 + 4*len(m.Linear.W))
	w.Raw([]byte(magic))
	w.Int(Version)
	w.Int(len(m.Labels))
	for _, l := range m.Labels {
		w.String(l.Code)
		w.String(l.FR)
		w.String(l.EN)
	}
	w.Blob(m.Params)
	keys := slices.Sorted(maps.Keys(m.Metadata))
	w.Int(len(keys))
	for _, k := range keys {
		w.String(k)
		w.String(m.Metadata[k])
	}
	m.Vectorizer.Encode(w)
	m.Linear.Encode(w)
	sum := sha256.Sum256(w.Bytes())
	w.Raw(sum[:])
	return w.Bytes()
}

// WriteTo writes the model file to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	b, err := m.Encode()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("write model: %w", err)
	}
	return int64(n), nil
}

// Read reads and decodes a model file of at most MaxFileBytes.
func Read(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("read model: larger than %d bytes", MaxFileBytes)
	}
	return Decode(b)
}

// Bounds on what a model holds: labels (the linear model's class limit) and
// metadata entries (lineage: a few dozen).
const (
	maxLabels   = linear.MaxClasses
	maxMetadata = 1 << 12
)

// Decode parses a model file. A truncated, corrupted or foreign file gives an
// error wrapping ErrNotModel, ErrChecksum or ErrVersion.
func Decode(data []byte) (*Model, error) {
	if len(data) < len(magic) || !bytes.Equal(data[:len(magic)], []byte(magic)) {
		return nil, fmt.Errorf("decode model: %w", ErrNotModel)
	}
	if len(data) < len(magic)+1+sha256.Size {
		return nil, fmt.Errorf("decode model: %w", ErrChecksum)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("decode model: %w", ErrChecksum)
	}
	r := wire.NewReader(body[len(magic):])
	version := r.Int(1 << 16)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("decode model: %w: %v", ErrVersion, err)
	}
	if version < 1 || version > Version {
		return nil, fmt.Errorf("decode model: %w: %d (this build reads 1 to %d)", ErrVersion, version, Version)
	}
	m := &Model{}
	// A Label takes 48 bytes for 3 of input and a metadata entry far more
	// than its 2, so their counts are bounded by what a model may hold, not
	// only by the input's size.
	n := r.Len(3)
	if n > maxLabels {
		return nil, fmt.Errorf("decode model: %d labels, more than %d", n, maxLabels)
	}
	m.Labels = make([]Label, 0, n)
	for range n {
		m.Labels = append(m.Labels, Label{Code: r.String(), FR: r.String(), EN: r.String()})
	}
	if p := r.Blob(); len(p) > 0 {
		m.Params = slices.Clone(p)
	}
	if n := r.Len(2); n > 0 {
		if n > maxMetadata {
			return nil, fmt.Errorf("decode model: %d metadata entries, more than %d", n, maxMetadata)
		}
		m.Metadata = make(map[string]string, n)
		for range n {
			k := r.String()
			m.Metadata[k] = r.String()
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("decode model: header: %w", err)
	}
	m.Vectorizer = new(features.Vectorizer)
	// Format 1 embeds vectorizer encoding 1; later formats the current one.
	fv := features.Version
	if version == 1 {
		fv = 1
	}
	if err := m.Vectorizer.Decode(r, fv); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	m.Linear = new(linear.Model)
	if err := m.Linear.Decode(r, version >= 2); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if r.Remaining() != 0 {
		return nil, fmt.Errorf("decode model: %d trailing bytes", r.Remaining())
	}
	if err := m.checkParts(); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	return m, nil
}

// Scored is a label with its probability.
type Scored struct {
	Label
	Prob float64 `json:"prob"`
}

// Prediction is the answer for one listing: the most likely label and the k
// most likely labels, best first (Top[0] is the same as Best).
type Prediction struct {
	Best Scored   `json:"best"`
	Top  []Scored `json:"top"`
}

type scratch struct {
	fs     features.Scratch
	scores []float64
	order  []int
}

func (m *Model) scratch() *scratch {
	if s, ok := m.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

// Predict classifies a listing from its title and body and returns the best
// label and the top k labels (k is clamped to [1, number of labels]).
func (m *Model) Predict(title, body string, k int) Prediction {
	s := m.scratch()
	defer m.pool.Put(s)
	s.scores = m.scores(s, title, body, s.scores)
	m.Linear.Probabilities(s.scores)
	k = min(max(k, 1), len(s.scores))
	s.order = s.order[:0]
	for c := range s.scores {
		s.order = append(s.order, c)
	}
	// Partial selection: k is small.
	for i := range k {
		best := i
		for j := i + 1; j < len(s.order); j++ {
			if s.scores[s.order[j]] > s.scores[s.order[best]] {
				best = j
			}
		}
		s.order[i], s.order[best] = s.order[best], s.order[i]
	}
	p := Prediction{Top: make([]Scored, k)}
	for i, c := range s.order[:k] {
		p.Top[i] = Scored{Label: m.Labels[c], Prob: s.scores[c]}
	}
	p.Best = p.Top[0]
	return p
}

// Probabilities writes the probability of every label in Labels for a
// listing into dst (grown if needed) and returns it.
func (m *Model) Probabilities(title, body string, dst []float64) []float64 {
	s := m.scratch()
	defer m.pool.Put(s)
	dst = m.scores(s, title, body, dst)
	m.Linear.Probabilities(dst)
	return dst
}

// scores writes the decision values of a listing into dst, using s's buffers.
func (m *Model) scores(s *scratch, title, body string, dst []float64) []float64 {
	return m.Linear.Scores(m.Vectorizer.AppendUnordered(&s.fs, features.Document{Title: title, Body: body}), dst)
}

// Classify returns the index in Labels of the best label for a listing. It is
// Predict without probabilities and allocation, for batch evaluation.
func (m *Model) Classify(title, body string) int {
	s := m.scratch()
	defer m.pool.Put(s)
	s.scores = m.scores(s, title, body, s.scores)
	return m.Linear.Classify(s.scores)
}
