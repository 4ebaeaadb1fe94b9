package classifier

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/sparse"
	"github.com/prodcat/prodcat/internal/testenv"
)

// toyExamples is a small three-class catalogue written for these tests.
func toyExamples() []dataset.Example {
	rows := []struct{ title, body, label string }{
		{"Chaussures de sport", "baskets légères pour courir", "shoes"},
		{"Chaussures de ville", "cuir noir", "shoes"},
		{"Baskets enfant", "", "shoes"},
		{"Sandales femme", "été plage", "shoes"},
		{"Livre de cuisine", "<p>recettes faciles</p>", "books"},
		{"Livre pour enfants", "contes illustrés", "books"},
		{"Roman policier", "poche", "books"},
		{"Bande dessinée", "album cartonné", "books"},
		{"Piscine gonflable", "jardin", "pool"},
		{"Pompe pour piscine", "filtration", "pool"},
		{"Bâche de piscine", "hiver", "pool"},
		{"Robot de piscine", "nettoyage du fond", "pool"},
	}
	ex := make([]dataset.Example, len(rows))
	for i, r := range rows {
		ex[i] = dataset.Example{ID: string(rune('a' + i)), Title: r.title, Body: r.body, Label: r.label}
	}
	return ex
}

func smallParams() Params {
	p := DefaultParams()
	p.Features.HashBits = 12
	return p
}

func TestTrainPredictsTrainingExamples(t *testing.T) {
	m, err := Train(context.Background(), toyExamples(), smallParams(), Options{}, map[string]string{"dataset": "toy"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range toyExamples() {
		if p := m.Predict(e.Title, e.Body, 3); p.Best.Code != e.Label {
			t.Errorf("%q: predicted %s, want %s", e.Title, p.Best.Code, e.Label)
		}
	}
	var got Params
	if err := json.Unmarshal(m.Params, &got); err != nil || got != smallParams() {
		t.Errorf("params in the model: %s (%v)", m.Params, err)
	}
}

// TestStagesMatchTrain runs the four stages with a marshal/unmarshal between
// each, as the pipeline does, and checks the model file equals Train's.
func TestStagesMatchTrain(t *testing.T) {
	ctx := context.Background()
	ex, p := toyExamples(), smallParams()
	want, err := Train(ctx, ex, p, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}

	labels := dataset.Labels(ex)
	y, err := Encode(ex, labels)
	if err != nil {
		t.Fatal(err)
	}
	v, err := FitVectorizer(ctx, Documents(ex), p, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	vb, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var v2 features.Vectorizer
	if err := v2.UnmarshalBinary(vb); err != nil {
		t.Fatal(err)
	}
	x, err := Transform(ctx, &v2, Documents(ex), Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	xb, err := x.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var x2 sparse.Matrix
	if err := x2.UnmarshalBinary(xb); err != nil {
		t.Fatal(err)
	}
	lm, err := TrainLinear(ctx, &x2, y, len(labels), p, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Assemble(&v2, lm, labels, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantBytes) {
		t.Error("staged training gives a different model file than Train")
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	one := toyExamples()[:2] // a single label
	if _, err := Train(ctx, one, smallParams(), Options{}, nil); err == nil {
		t.Error("one label: no error")
	}
	bad := smallParams()
	bad.Solver.C = -1
	if _, err := Train(ctx, toyExamples(), bad, Options{}, nil); err == nil {
		t.Error("negative C: no error")
	}
	unlabelled := toyExamples()
	unlabelled[0].Label = ""
	if _, err := Train(ctx, unlabelled, smallParams(), Options{}, nil); err == nil {
		t.Error("unlabelled example: no error")
	}
}

func TestSelectRanksCandidates(t *testing.T) {
	var ex []dataset.Example
	for range 3 {
		ex = append(ex, toyExamples()...)
	}
	grid := Grid{C: []float64{0.1, 1}, CharRanges: [][2]int{{0, 0}, {2, 4}}}
	var calls int
	cands, err := Select(context.Background(), ex, smallParams(), grid, 3, Options{Progress: func(done, total int) {
		calls++
		if total != 12 {
			t.Errorf("progress total %d, want 12", total)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 4 || calls != 12 {
		t.Fatalf("%d candidates, %d progress calls; want 4, 12", len(cands), calls)
	}
	for i, c := range cands {
		if len(c.Folds) != 3 || (i > 0 && c.WeightedF1 > cands[i-1].WeightedF1) {
			t.Errorf("candidate %d: %+v", i, c)
		}
	}
}

// The naive Bayes weight is a grid axis of its own, crossed with C, and a
// grid with an unusable weight is refused before any data is read.
func TestSelectNaiveBayesAxis(t *testing.T) {
	var ex []dataset.Example
	for range 3 {
		ex = append(ex, toyExamples()...)
	}
	grid := Grid{C: []float64{0.5, 1}, NaiveBayes: []float64{0, 0.015}}
	cands, err := Select(context.Background(), ex, smallParams(), grid, 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[2]float64]bool{}
	for _, c := range cands {
		seen[[2]float64{c.Params.Solver.C, c.Params.Solver.NaiveBayes}] = true
	}
	if len(cands) != 4 || len(seen) != 4 {
		t.Errorf("candidates %d, distinct (C, naive Bayes) %v; want the 4 of the grid", len(cands), seen)
	}
	bad := Grid{NaiveBayes: []float64{-1}}
	if err := bad.Check(smallParams()); err == nil || !strings.Contains(err.Error(), "naive Bayes") {
		t.Errorf("grid with naive Bayes -1: %v", err)
	}
}

// More folds than examples would leave empty folds scoring 0.
func TestSelectRejectsMoreFoldsThanExamples(t *testing.T) {
	ex := toyExamples()
	_, err := Select(context.Background(), ex, smallParams(), Grid{}, len(ex)+1, Options{})
	if err == nil || !strings.Contains(err.Error(), "folds for") {
		t.Errorf("err = %v, want a folds error", err)
	}
	if _, err := Select(context.Background(), ex, smallParams(), Grid{}, len(ex), Options{}); err != nil {
		t.Errorf("one fold per example: %v", err)
	}
}

// Select refuses unlabelled examples, as Train does, rather than
// cross-validating "" as a class.
func TestSelectRejectsUnlabelledExamples(t *testing.T) {
	ex := toyExamples()
	ex[0].Label = ""
	if _, err := Select(context.Background(), ex, smallParams(), Grid{}, 2, Options{}); err == nil || !strings.Contains(err.Error(), "no label") {
		t.Errorf("err = %v, want an unlabelled-examples error", err)
	}
}

func readSplit(t testing.TB, name, file string) *dataset.Dataset {
	t.Helper()
	f, err := os.Open(testenv.Split(t, name, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := dataset.ReadCSV(f, []string{"text"}, "label", dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTrainTwiceGivesIdenticalBytes trains on the rakuten split twice, with
// different worker counts, and compares the model files byte for byte.
func TestTrainTwiceGivesIdenticalBytes(t *testing.T) {
	train := readSplit(t, "rakuten", "train.csv")
	var files [2][]byte
	for i, workers := range []int{1, 2} {
		m, err := Train(context.Background(), train.Examples, DefaultParams(), Options{Workers: workers}, map[string]string{"run": "same"})
		if err != nil {
			t.Fatal(err)
		}
		if files[i], err = m.Encode(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two trainings on the same data gave different model files")
	}
	if _, err := model.Decode(files[0]); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkTrainFashion measures features plus training with the default
// parameters on the fashion split (35,503 titles, 35 classes): the figure
// the issue compares with scikit-learn's word+char pipeline.
func BenchmarkTrainFashion(b *testing.B) {
	f, err := os.Open(testenv.Split(b, "fashion", "train.csv"))
	if err != nil {
		b.Fatal(err)
	}
	d, err := dataset.ReadCSV(f, []string{"text"}, "label", dataset.Options{})
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Train(context.Background(), d.Examples, DefaultParams(), Options{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
