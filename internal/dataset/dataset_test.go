package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestLabels(t *testing.T) {
	ex := []Example{{Label: "2583"}, {Label: "10"}, {Label: "1140"}, {Label: "40"}, {Label: "10"}, {Label: "Shoes"}, {Label: "Bags"}, {Label: "040"}}
	got := Labels(ex)
	want := []string{"10", "040", "40", "1140", "2583", "Bags", "Shoes"}
	if !slices.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
}

func TestCounts(t *testing.T) {
	c := Counts([]Example{{Label: "10"}, {Label: "40"}, {Label: "10"}})
	if len(c) != 2 || c["10"] != 2 || c["40"] != 1 {
		t.Errorf("Counts = %v", c)
	}
}

func TestRejectSummary(t *testing.T) {
	d := &Dataset{Rejects: []Reject{{Kind: KindUnknownLabel}, {Kind: KindEmptyText}, {Kind: KindEmptyText}, {Kind: KindMalformed}}}
	if got, want := d.RejectSummary(), "2 empty text, 1 malformed row, 1 unknown label"; got != want {
		t.Errorf("RejectSummary = %q, want %q", got, want)
	}
	if got := (&Dataset{}).RejectSummary(); got != "" {
		t.Errorf("empty RejectSummary = %q", got)
	}
}

func sampleExamples(n int) []Example {
	labels := []string{"10", "40", "1140", "2583", "2705"}
	ex := make([]Example, n)
	for i := range ex {
		ex[i] = Example{ID: fmt.Sprint(1000 + i), Title: fmt.Sprintf("article %d", i), Body: "<p>texte</p>", Label: labels[i%len(labels)]}
	}
	return ex
}

func shuffled(ex []Example, seed uint64) []Example {
	out := slices.Clone(ex)
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestDigest(t *testing.T) {
	ex := sampleExamples(50)
	d := Digest(ex)
	if len(d) != 64 {
		t.Fatalf("digest %q is not SHA-256 hex", d)
	}
	if got := Digest(shuffled(ex, 1)); got != d {
		t.Errorf("digest depends on order: %s vs %s", got, d)
	}
	if got := (&Dataset{Examples: ex}).Digest(); got != d {
		t.Errorf("Dataset.Digest = %s, want %s", got, d)
	}
	changed := slices.Clone(ex)
	changed[3].Label = "40"
	if Digest(changed) == d {
		t.Error("changing a label does not change the digest")
	}
	// Field boundaries are part of the encoding.
	a := []Example{{ID: "1", Title: "ab", Body: "c"}}
	b := []Example{{ID: "1", Title: "a", Body: "bc"}}
	if Digest(a) == Digest(b) {
		t.Error("moving bytes between fields does not change the digest")
	}
	if Digest(nil) != Digest([]Example{}) {
		t.Error("nil and empty differ")
	}
	if ex[0].ID != "1000" {
		t.Error("Digest reordered its input")
	}
}

func TestSplitDeterministicAndStratified(t *testing.T) {
	ex := sampleExamples(5000) // 1000 examples per label
	train, hold := Split(ex, 0.2, "salt", ByID)
	if len(train)+len(hold) != len(ex) {
		t.Fatalf("split lost examples: %d + %d != %d", len(train), len(hold), len(ex))
	}
	// Each example's side is a coin flip weighted 0.2, so each label's
	// holdout is 200 ± 13: well within ±50 (fixed by the salt, not random).
	hc := Counts(hold)
	for l, n := range Counts(ex) {
		if hc[l] < 150 || hc[l] > 250 {
			t.Errorf("label %s: holdout %d of %d, want about 200", l, hc[l], n)
		}
	}
	// Same rows whatever the input order.
	for seed := uint64(1); seed <= 3; seed++ {
		t2, h2 := Split(shuffled(ex, seed), 0.2, "salt", ByID)
		if !slices.Equal(t2, train) || !slices.Equal(h2, hold) {
			t.Fatalf("seed %d: split depends on input order", seed)
		}
	}
	// Another salt picks other rows.
	_, h3 := Split(ex, 0.2, "other", ByID)
	if slices.Equal(h3, hold) {
		t.Error("salt has no effect")
	}
	// Results are in canonical order and the input is untouched.
	if !slices.IsSortedFunc(hold, compareExamples) || !slices.IsSortedFunc(train, compareExamples) {
		t.Error("results not in canonical order")
	}
	if ex[0].ID != "1000" {
		t.Error("Split reordered its input")
	}
}

// When the data grows, examples keep their side: a model trained on the
// old training part is never scored on rows it was trained on.
func TestSplitIsStableAsDataGrows(t *testing.T) {
	ex := sampleExamples(1000)
	oldTrain, oldHold := Split(ex[:900], 0.2, "salt", ByID)
	newTrain, newHold := Split(ex, 0.2, "salt", ByID)
	in := func(e Example, part []Example) bool { return slices.Contains(part, e) }
	for _, e := range oldTrain {
		if in(e, newHold) {
			t.Fatalf("example %s moved from train to holdout as the data grew", e.ID)
		}
	}
	for _, e := range oldHold {
		if in(e, newTrain) {
			t.Fatalf("example %s moved from holdout to train as the data grew", e.ID)
		}
	}
}

// A generic CSV without an ID column numbers its rows, so rows inserted at
// the top renumber every row. Split ByText keeps each text on its side
// anyway, and puts identical texts on the same side.
func TestSplitByTextSurvivesRenumbering(t *testing.T) {
	csv := func(extra int) string {
		var b strings.Builder
		b.WriteString("text,label\n")
		for i := range extra {
			fmt.Fprintf(&b, "new product %d,shoes\n", i)
		}
		for i := range 2000 {
			fmt.Fprintf(&b, "product %d,%s\n", i%1500, []string{"shoes", "bags", "hats"}[i%3]) // 500 texts twice
		}
		return b.String()
	}
	read := func(extra int) *Dataset {
		d, err := ReadCSV(strings.NewReader(csv(extra)), []string{"text"}, "label", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !d.RowIDs {
			t.Fatal("RowIDs not set for a CSV without an ID column")
		}
		return d
	}
	before, after := read(0), read(10)
	side := func(d *Dataset) map[string]string {
		train, hold := Split(d.Examples, 0.2, "salt", ByText)
		m := map[string]string{}
		for part, ex := range map[string][]Example{"train": train, "holdout": hold} {
			for _, e := range ex {
				if prev, ok := m[e.Title]; ok && prev != part {
					t.Errorf("text %q is in both train and holdout", e.Title)
				}
				m[e.Title] = part
			}
		}
		return m
	}
	was, now := side(before), side(after)
	for text, part := range was {
		if now[text] != part {
			t.Errorf("text %q moved from %s to %s when rows were inserted above it", text, part, now[text])
		}
	}
	// By row number, most rows would have moved.
	moved := 0
	trainB, _ := Split(before.Examples, 0.2, "salt", ByID)
	_, holdA := Split(after.Examples, 0.2, "salt", ByID)
	inTrain := map[string]bool{}
	for _, e := range trainB {
		inTrain[e.Title+"|"+e.Label] = true
	}
	for _, e := range holdA {
		if inTrain[e.Title+"|"+e.Label] {
			moved++
		}
	}
	if moved < 100 {
		t.Errorf("only %d holdout rows were training rows before under ByID; the test does not exercise renumbering", moved)
	}
}

// Forcing a holdout example on a small label never cuts through a run of
// identical texts.
func TestSplitByTextKeepsDuplicatesTogetherInSmallLabels(t *testing.T) {
	ex := []Example{
		{ID: "1", Title: "same shoe", Label: "A"}, {ID: "2", Title: "same shoe", Label: "A"},
		{ID: "3", Title: "x", Label: "B"}, {ID: "4", Title: "y", Label: "B"}, {ID: "5", Title: "z", Label: "B"},
		{ID: "6", Title: "boot", Label: "C"}, {ID: "7", Title: "boot", Label: "C"}, {ID: "8", Title: "clog", Label: "C"},
	}
	for _, salt := range []string{"salt", "s1", "s2", "s3", "s4", "s5"} {
		train, hold := Split(ex, 0.2, salt, ByText)
		side := map[string]string{}
		for part, xs := range map[string][]Example{"train": train, "holdout": hold} {
			for _, e := range xs {
				if prev, ok := side[e.Title]; ok && prev != part {
					t.Fatalf("salt %s: %q is in train and in holdout", salt, e.Title)
				}
				side[e.Title] = part
			}
		}
		c := Counts(hold)
		if c["A"] != 0 || c["B"] < 1 || c["B"] > 2 || c["C"] < 1 || c["C"] > 2 {
			t.Errorf("salt %s: holdout counts %v; want A (one text) 0, B and C 1 or 2", salt, c)
		}
		if Counts(train)["C"] < 1 {
			t.Errorf("salt %s: C kept no training example", salt)
		}
	}
}

func TestSplitSmallClasses(t *testing.T) {
	ex := []Example{
		{ID: "1", Label: "solo"},
		{ID: "2", Label: "pair"}, {ID: "3", Label: "pair"},
		{ID: "4", Label: "trio"}, {ID: "5", Label: "trio"}, {ID: "6", Label: "trio"},
	}
	tests := []struct {
		frac             float64
		trioMin, trioMax int // holdout counts of trio; solo has 0, pair 1
	}{
		{0.1, 1, 2}, // at least one from classes with >= 2 examples
		{0.5, 1, 2},
		{1, 2, 2}, // every class keeps a training example
	}
	for _, tt := range tests {
		_, hold := Split(ex, tt.frac, "s", ByID)
		c := Counts(hold)
		if c["solo"] != 0 || c["pair"] != 1 || c["trio"] < tt.trioMin || c["trio"] > tt.trioMax {
			t.Errorf("frac %v: holdout counts %v, want solo 0, pair 1, trio %d to %d", tt.frac, c, tt.trioMin, tt.trioMax)
		}
	}
	for _, frac := range []float64{0, -1, math.NaN()} {
		if _, hold := Split(ex, frac, "s", ByID); len(hold) != 0 {
			t.Errorf("frac %v: holdout %v, want none", frac, hold)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	ex := append(sampleExamples(20),
		Example{ID: "x", Title: "quote \" comma , newline\n crlf\r\n tab\t <b>&amp;</b>", Body: "é ü 😀 \u2028", Label: ""},
		Example{ID: "", Title: "", Body: "", Label: "Shoes"},
	)
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, ex); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `{"format":"prodcat-dataset","version":1,"examples":22,"digest":"`+Digest(ex)+`"}`+"\n") {
		t.Errorf("header: %q", strings.SplitN(buf.String(), "\n", 2)[0])
	}
	if !strings.Contains(buf.String(), "<b>&amp;</b>") {
		t.Error("HTML was escaped")
	}
	got, err := ReadSnapshot(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, got, ex)

	var empty bytes.Buffer
	if err := WriteSnapshot(&empty, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadSnapshot(&empty); err != nil || len(got) != 0 {
		t.Errorf("empty snapshot: %v, %v", got, err)
	}

	// JSON would carry invalid UTF-8 altered, so the file could not match
	// its digest: nothing is written.
	var bad bytes.Buffer
	err = WriteSnapshot(&bad, []Example{{ID: "p\xff1", Title: "t", Label: "x"}})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "invalid UTF-8") || bad.Len() != 0 {
		t.Errorf("invalid UTF-8: err %v, %d bytes written", err, bad.Len())
	}
}

func TestReadSnapshotErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, sampleExamples(5)); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	lines := strings.SplitAfter(good, "\n")
	tests := []struct{ name, in, msg string }{
		{"empty", "", "truncated at header"},
		{"csv", "id,title\n1,a\n", "snapshot header"},
		{"foreign json", `{"format":"other","version":1}`, `not a snapshot (format "other")`},
		{"version", strings.Replace(good, `"version":1`, `"version":2`, 1), "snapshot version 2, want 1"},
		{"truncated", strings.Join(lines[:4], ""), "truncated at example 4 of 5"},
		{"cut mid-line", good[:len(good)-10], "truncated at example 5 of 5"},
		{"trailing", good + `{"id":"9"}` + "\n", "data after 5 examples"},
		{"altered", strings.Replace(good, "article 3", "article 4", 1), "does not match its header"},
		{"negative count", `{"format":"prodcat-dataset","version":1,"examples":-1}`, "negative example count"},
		{"wrong type", strings.Replace(good, `"id":"1002"`, `"id":1002`, 1), "example 3 of 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSnapshot(strings.NewReader(tt.in))
			if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want ErrBadData containing %q", err, tt.msg)
			}
		})
	}
}
