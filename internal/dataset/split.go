package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
)

// SplitKey says what decides an example's side of a Split.
type SplitKey int

const (
	// ByID hashes the example's ID: right for stable IDs (productids, an
	// ID column).
	ByID SplitKey = iota
	// ByText hashes its text (title and body, not the label): right when
	// the IDs are row numbers, which move when rows are inserted or sorted.
	// Identical texts then fall on the same side, so the holdout never
	// scores a text the model was trained on.
	ByText
)

// Split divides ex into a training part and a fixed holdout.
//
// An example goes to the holdout when SHA-256 of the salt and its key (see
// SplitKey), its first 8 bytes read as a fraction of 2⁶⁴, is below
// holdoutFraction. That depends on the
// example alone, so when the data grows every example stays on its side: a
// model trained on an earlier training part is never scored on rows it was
// trained on, which the promotion gate relies on. Each label then gets at
// least 1 holdout example when it has 2 or more and holdoutFraction > 0,
// and keeps at least 1 training example (its lowest- and highest-hashed
// examples move when needed, but examples with the same key move together,
// so a label whose examples all share one key stays in train), so the
// holdout holds about holdoutFraction of
// every label. A label with a single example stays in train. The result
// depends only on the set of examples and the salt, not on the order of ex.
// Both parts are returned in canonical order (see SortCanonical). ex is not
// modified.
func Split(ex []Example, holdoutFraction float64, salt string, by SplitKey) (train, holdout []Example) {
	if math.IsNaN(holdoutFraction) || holdoutFraction < 0 {
		holdoutFraction = 0
	}
	byLabel := make(map[string][]keyed)
	for i, e := range ex {
		key := sha256.Sum256([]byte(salt + e.ID))
		if by == ByText {
			key = sha256.Sum256([]byte(salt + "\x00text\x00" + e.Title + "\x00" + e.Body))
		}
		byLabel[e.Label] = append(byLabel[e.Label], keyed{key: key, i: i})
	}
	for _, group := range byLabel {
		slices.SortFunc(group, func(a, b keyed) int {
			if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
				return c
			}
			// Equal keys: fall back to the content so the order stays
			// independent of the input order.
			return compareExamples(ex[a.i], ex[b.i])
		})
		// The group is in hash order, so the holdout is a prefix of it.
		n := len(group)
		k, _ := slices.BinarySearchFunc(group, holdoutFraction, func(g keyed, f float64) int {
			if hashFraction(g.key) < f {
				return -1
			}
			return 1
		})
		if n >= 2 && holdoutFraction > 0 {
			k = min(max(k, 1), n-1)
			k = keyBoundary(group, k)
		} else {
			k = 0
		}
		for j, g := range group {
			if j < k {
				holdout = append(holdout, ex[g.i])
			} else {
				train = append(train, ex[g.i])
			}
		}
	}
	SortCanonical(train)
	SortCanonical(holdout)
	return train, holdout
}

// keyed is an example of Split, by its index, with its hashed key.
type keyed struct {
	key [sha256.Size]byte
	i   int
}

// keyBoundary moves the cut k of a group in key order to the nearest place
// where the key changes, so examples with equal keys (identical texts under
// ByText) stay on one side: forward first, keeping a training example, else
// back, keeping a holdout example, else 0 (one key: all in train).
func keyBoundary(group []keyed, k int) int {
	same := func(i int) bool { return group[i].key == group[i-1].key }
	if k <= 0 || k >= len(group) || !same(k) {
		return k
	}
	for f := k + 1; f < len(group); f++ {
		if !same(f) {
			return f
		}
	}
	for b := k - 1; b >= 1; b-- {
		if !same(b) {
			return b
		}
	}
	return 0
}

// hashFraction reads the first 8 bytes of key as a fraction in [0, 1).
func hashFraction(key [sha256.Size]byte) float64 {
	return float64(binary.BigEndian.Uint64(key[:8])) / (1 << 64)
}
