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
	d := &Dataset{Rejects: []Reject{{Kind: KindUnknownLabel}, {Kind: KindEmptyDesignation}, {Kind: KindEmptyDesignation}, {Kind: KindMalformed}}}
	if got, want := d.RejectSummary(), "2 empty designation, 1 malformed row, 1 unknown label"; got != want {
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
	train, hold := Split(ex, 0.2, "salt")
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
		t2, h2 := Split(shuffled(ex, seed), 0.2, "salt")
		if !slices.Equal(t2, train) || !slices.Equal(h2, hold) {
			t.Fatalf("seed %d: split depends on input order", seed)
		}
	}
	// Another salt picks other rows.
	_, h3 := Split(ex, 0.2, "other")
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
	oldTrain, oldHold := Split(ex[:900], 0.2, "salt")
	newTrain, newHold := Split(ex, 0.2, "salt")
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
		_, hold := Split(ex, tt.frac, "s")
		c := Counts(hold)
		if c["solo"] != 0 || c["pair"] != 1 || c["trio"] < tt.trioMin || c["trio"] > tt.trioMax {
			t.Errorf("frac %v: holdout counts %v, want solo 0, pair 1, trio %d to %d", tt.frac, c, tt.trioMin, tt.trioMax)
		}
	}
	for _, frac := range []float64{0, -1, math.NaN()} {
		if _, hold := Split(ex, frac, "s"); len(hold) != 0 {
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
