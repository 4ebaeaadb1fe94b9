package dataset

import (
	"bytes"
	"crypto/sha256"
	"math"
	"slices"
)

// Split divides ex into a training part and a fixed, stratified holdout.
//
// Within each label the examples are ordered by SHA-256(salt+ID) and the
// first round(holdoutFraction*n) go to the holdout, at least 1 when the label
// has 2 or more examples and holdoutFraction > 0, and never all of them, so
// every label keeps a training example; a label with a single example stays
// in train. The result depends only on the set of examples and the salt, not
// on the order of ex, so two runs on the same data evaluate on the same rows.
// Both parts are returned in canonical order (see SortCanonical). ex is not
// modified.
func Split(ex []Example, holdoutFraction float64, salt string) (train, holdout []Example) {
	if math.IsNaN(holdoutFraction) || holdoutFraction < 0 {
		holdoutFraction = 0
	}
	type keyed struct {
		key [sha256.Size]byte
		i   int
	}
	byLabel := make(map[string][]keyed)
	for i, e := range ex {
		byLabel[e.Label] = append(byLabel[e.Label], keyed{key: sha256.Sum256([]byte(salt + e.ID)), i: i})
	}
	for _, group := range byLabel {
		slices.SortFunc(group, func(a, b keyed) int {
			if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
				return c
			}
			// Equal IDs: fall back to the content so the order stays
			// independent of the input order.
			return compareExamples(ex[a.i], ex[b.i])
		})
		n := len(group)
		k := int(math.Round(holdoutFraction * float64(n)))
		if n >= 2 && holdoutFraction > 0 && k < 1 {
			k = 1
		}
		if k > n-1 {
			k = n - 1
		}
		if k < 0 {
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
