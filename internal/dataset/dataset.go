// Package dataset reads and validates labelled product catalogue data: the
// Rakuten challenge's raw X/Y files and generic CSV files with chosen text
// and label columns. Rows that cannot be used are not fatal: each is kept as
// a Reject with its line and a reason, so the pipeline can quarantine them in
// a report. The package also computes a content digest, a fixed hash-based
// holdout split and reads and writes the canonical snapshot format.
//
// It does no I/O of its own beyond the readers and writers it is given.
package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sort"
	"strings"
)

// ErrBadData marks errors caused by the content of the data (a missing
// column, no usable rows, too many rejects) rather than by I/O. Retrying
// does not help: errors.Is(err, ErrBadData) tells the pipeline to fail
// non-retryably.
var ErrBadData = errors.New("bad data")

// Example is one usable labelled (or, for unlabelled input, unlabelled) row.
type Example struct {
	// ID is the productid for raw files; for generic CSV the ID column,
	// the unnamed index column, or the 1-based data row number.
	ID string `json:"id"`
	// Title is the designation (generic CSV: the first text column).
	Title string `json:"title"`
	// Body is the description (generic CSV: the other non-empty text
	// columns joined with "\n").
	Body string `json:"body"`
	// Label is the prdtypecode; "" when the input is unlabelled.
	Label string `json:"label"`
}

// Reject is a record that was left out, or (in Dataset.Repairs) a record that
// was kept after a repair.
type Reject struct {
	// Line is the 1-based physical line where the record starts in the X
	// (or generic) file. It is 0 for problems found only in the Y file, in
	// which case Reason names the Y line.
	Line int `json:"line"`
	// ID is the record's ID when it could be read, else "".
	ID string `json:"id,omitempty"`
	// Kind is one of the Kind constants, for summaries.
	Kind string `json:"kind"`
	// Reason says what is wrong, for people.
	Reason string `json:"reason"`
}

// Reject kinds. A Reject's Kind is one of these; its Reason has the detail.
const (
	KindMalformed        = "malformed row"
	KindFieldCount       = "wrong field count"
	KindMissingID        = "missing id"
	KindDuplicateIndex   = "duplicate index"
	KindDuplicateID      = "duplicate id"
	KindDuplicateProduct = "duplicate productid"
	KindInvalidUTF8      = "invalid UTF-8"
	KindTooLong          = "field too long"
	KindEmptyText        = "empty text"
	KindMissingLabel     = "missing label"
	KindUnknownLabel     = "unknown label"
	KindNotInY           = "no label in Y"
	KindDuplicateInY     = "duplicate index in Y"
	KindOnlyInY          = "only in Y"
)

// Dataset is the result of reading one input.
type Dataset struct {
	// Examples are the usable rows in input order.
	Examples []Example `json:"examples"`
	// Rejects are the rows left out, in the order they were found (X or
	// generic file first, then Y-only problems).
	Rejects []Reject `json:"rejects"`
	// Repairs are rows kept after invalid UTF-8 was replaced by U+FFFD.
	Repairs []Reject `json:"repairs,omitempty"`
	// RowIDs is set when the IDs are data row numbers (a generic CSV with
	// no ID column), which change when rows are inserted, deleted or
	// sorted: split such data ByText.
	RowIDs bool `json:"row_ids,omitempty"`
}

// Options control validation. The zero value accepts any label, any field
// size and any fraction of rejects, and repairs invalid UTF-8.
type Options struct {
	// MaxRejectFraction, when > 0, makes reading fail with ErrBadData when
	// rejects/(rejects+examples) is above it. All rejects count, Y-only
	// ones included.
	MaxRejectFraction float64
	// KnownLabels, when not empty, is the set of allowed labels; rows with
	// another label are rejected as KindUnknownLabel.
	KnownLabels []string
	// MaxFieldBytes, when > 0, rejects rows with a text field longer than
	// this many bytes.
	MaxFieldBytes int
	// StrictUTF8 rejects rows with invalid UTF-8 in a text field. By default
	// the bad bytes are replaced with U+FFFD and the row is kept and listed
	// in Dataset.Repairs: one stray Latin-1 byte in a long description
	// should not cost a training example. A file where more than half the
	// rows need that repair is in another encoding, though, and fails with
	// ErrBadData.
	StrictUTF8 bool
	// IDColumn names the ID column for ReadCSV. When empty, an unnamed
	// column (a pandas index) is used if there is one, else the 1-based
	// data row number.
	IDColumn string
}

// Labels returns the distinct labels of ex, sorted with CompareLabels.
func Labels(ex []Example) []string {
	seen := make(map[string]bool)
	var out []string
	for _, e := range ex {
		if !seen[e.Label] {
			seen[e.Label] = true
			out = append(out, e.Label)
		}
	}
	slices.SortFunc(out, CompareLabels)
	return out
}

// CompareLabels orders labels numerically when both are decimal integers
// ("10" < "40" < "1140"), numbers before other labels, and other labels by
// bytes. It returns -1, 0 or +1.
func CompareLabels(a, b string) int {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb:
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			if len(ta) < len(tb) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Counts returns the number of examples per label.
func Counts(ex []Example) map[string]int {
	c := make(map[string]int)
	for _, e := range ex {
		c[e.Label]++
	}
	return c
}

// RejectCounts returns the number of rejects per Kind.
func (d *Dataset) RejectCounts() map[string]int {
	c := make(map[string]int)
	for _, r := range d.Rejects {
		c[r.Kind]++
	}
	return c
}

// RejectSummary describes the rejects in one line, most frequent kind first,
// for example "7 empty text, 5 unknown label"; "" when there are none.
func (d *Dataset) RejectSummary() string {
	return summarize(d.RejectCounts())
}

func summarize(counts map[string]int) string {
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if counts[kinds[i]] != counts[kinds[j]] {
			return counts[kinds[i]] > counts[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

// Digest returns Digest(d.Examples).
func (d *Dataset) Digest() string { return Digest(d.Examples) }

// Digest returns the SHA-256, in hex, of the canonical encoding of ex: the
// examples sorted with SortCanonical, each field written as its byte length
// (uint64 big-endian) followed by its bytes, after a format tag. The digest
// does not depend on the order of ex, so reordering a file does not make a
// new dataset, and it does not depend on rejects.
func Digest(ex []Example) string {
	idx := canonicalOrder(ex)
	h := sha256.New()
	h.Write([]byte("prodcat-dataset-v1\x00"))
	for _, i := range idx {
		e := &ex[i]
		writeField(h, e.ID)
		writeField(h, e.Title)
		writeField(h, e.Body)
		writeField(h, e.Label)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// SortCanonical sorts ex in place by ID (bytewise), then Label, Title and
// Body: the order used by Digest and by Split's results.
func SortCanonical(ex []Example) {
	slices.SortFunc(ex, compareExamples)
}

func compareExamples(a, b Example) int {
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Label, b.Label); c != 0 {
		return c
	}
	if c := strings.Compare(a.Title, b.Title); c != 0 {
		return c
	}
	return strings.Compare(a.Body, b.Body)
}

// canonicalOrder returns the indexes of ex in canonical order without
// touching ex.
func canonicalOrder(ex []Example) []int {
	idx := make([]int, len(ex))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return compareExamples(ex[i], ex[j]) })
	return idx
}
