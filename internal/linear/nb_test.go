package linear

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/sparse"
)

func TestNaiveBayesByHand(t *testing.T) {
	// Class 0: rows {0: 1, 1: 1} and {0: 2}, mass 4; class 1: row {2: 0.5}.
	x := sparse.NewMatrix(3)
	x.Append(sparse.Vector{Idx: []uint32{0, 1}, Val: []float32{1, 1}})
	x.Append(sparse.Vector{Idx: []uint32{0}, Val: []float32{2}})
	x.Append(sparse.Vector{Idx: []uint32{2}, Val: []float32{0.5}})
	y := []int{0, 0, 1}
	w := make([]float32, 3*2)
	prior := naiveBayes(x, y, []int32{0, 1, 2}, 2, w)

	const a = nbSmoothing
	l := math.Log
	want := []float64{
		l(3+a) - l(4+3*a), l(a) - l(0.5+3*a), // feature 0: classes 0, 1
		l(1+a) - l(4+3*a), l(a) - l(0.5+3*a), // feature 1
		l(a) - l(4+3*a), l(0.5+a) - l(0.5+3*a), // feature 2
	}
	for j, v := range want {
		if math.Abs(float64(w[j])-v) > 1e-5 {
			t.Errorf("w[%d] = %v, want %v", j, w[j], v)
		}
	}
	// Add-one priors: (2+1)/(3+2) and (1+1)/(3+2).
	if math.Abs(prior[0]-l(0.6)) > 1e-12 || math.Abs(prior[1]-l(0.4)) > 1e-12 {
		t.Errorf("priors %v, want log 0.6, log 0.4", prior)
	}

	// Only the rows given count: without row 1, class 0's mass is 2.
	prior = naiveBayes(x, y, []int32{0, 2}, 2, w)
	if got, want := float64(w[0]), l(1+a)-l(2+3*a); math.Abs(got-want) > 1e-5 {
		t.Errorf("w[0] from rows 0 and 2 = %v, want %v", got, want)
	}
	if math.Abs(prior[0]-l(0.5)) > 1e-12 {
		t.Errorf("prior[0] from rows 0 and 2 = %v, want log 0.5", prior[0])
	}

	dst := []float64{1, 2}
	addNaiveBayes(sparse.Vector{Idx: []uint32{0, 2}, Val: []float32{2, 1}}, w, prior, 0.5, dst)
	for c, base := range []float64{1, 2} {
		want := base + 0.5*(prior[c]+2*float64(w[c])+float64(w[2*2+c]))
		if math.Abs(dst[c]-want) > 1e-9 {
			t.Errorf("class %d: %v, want %v", c, dst[c], want)
		}
	}
}

// The blend is the SVM's weights plus the weight times naive Bayes's, in
// the weights themselves, so prediction reads one linear model.
func TestNaiveBayesBlendFoldsIntoWeights(t *testing.T) {
	x, y := toy(300)
	p := DefaultParams()
	p.Calibrate = false
	p.NaiveBayes = 0
	svm, err := Train(context.Background(), x, y, 3, p, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.NaiveBayes = 0.5
	blend, err := Train(context.Background(), x, y, 3, p, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int32, x.Rows())
	for i := range rows {
		rows[i] = int32(i)
	}
	w := make([]float32, len(svm.W))
	prior := naiveBayes(x, y, rows, 3, w)
	for j := range w {
		if want := svm.W[j] + 0.5*w[j]; math.Abs(float64(blend.W[j]-want)) > 1e-5 {
			t.Fatalf("W[%d] = %v, want SVM %v + 0.5 × NB %v", j, blend.W[j], svm.W[j], w[j])
		}
	}
	for c := range prior {
		if want := float64(svm.B[c]) + 0.5*prior[c]; math.Abs(float64(blend.B[c])-want) > 1e-5 {
			t.Errorf("B[%d] = %v, want %v", c, blend.B[c], want)
		}
	}
}

func TestValidateNaiveBayesWeight(t *testing.T) {
	for _, v := range []float64{-0.1, math.NaN(), math.Inf(1), maxNaiveBayes + 1} {
		p := DefaultParams()
		p.NaiveBayes = v
		if p.Validate() == nil {
			t.Errorf("naive Bayes weight %v accepted", v)
		}
	}
	for _, v := range []float64{0, 0.015, maxNaiveBayes} {
		p := DefaultParams()
		p.NaiveBayes = v
		if err := p.Validate(); err != nil {
			t.Errorf("naive Bayes weight %v: %v", v, err)
		}
	}
}

// The held-out rows that calibration is fitted to get the blend of a naive
// Bayes model of the first phase's rows, which never saw them; the model
// gets the one of every row.
func TestNaiveBayesBlendHoldsOutCalibrationRows(t *testing.T) {
	x, y := toy(300)
	p := DefaultParams()
	p.NaiveBayes = 0.5
	tr := &trainer{x: x, y: y, p: p, classes: 3}
	tr.holdOut()
	if len(tr.cal) == 0 || tr.first == len(tr.order) {
		t.Fatalf("%d calibration rows, first phase %d of %d", len(tr.cal), tr.first, len(tr.order))
	}
	m := &Model{Classes: 3, Features: x.Cols, W: make([]float32, x.Cols*3), B: make([]float32, 3)}
	cal := make([]float64, len(tr.cal)*3)
	tr.blendNaiveBayes(m, cal)

	first := make([]float32, len(m.W))
	firstPrior := naiveBayes(x, y, tr.order[:tr.first], 3, first)
	all := make([]float32, len(m.W))
	allPrior := naiveBayes(x, y, tr.order, 3, all)
	leaked := 0
	for r, i := range tr.cal {
		want := make([]float64, 3)
		addNaiveBayes(x.Row(i), first, firstPrior, 0.5, want)
		seen := make([]float64, 3)
		addNaiveBayes(x.Row(i), all, allPrior, 0.5, seen)
		for c := range 3 {
			if math.Abs(cal[r*3+c]-want[c]) > 1e-9 {
				t.Fatalf("held-out row %d, class %d: %v, want %v from the first phase's rows", i, c, cal[r*3+c], want[c])
			}
			if math.Abs(want[c]-seen[c]) > 1e-6 {
				leaked++
			}
		}
	}
	if leaked == 0 {
		t.Fatal("the first phase's naive Bayes scores the held-out rows as the full one does: the test cannot tell them apart")
	}
	for j := range all {
		if math.Abs(float64(m.W[j]-0.5*all[j])) > 1e-6 {
			t.Fatalf("W[%d] = %v, want 0.5 × %v from every row", j, m.W[j], all[j])
		}
	}
}

func TestNaiveBayesRefusesNegativeFeatures(t *testing.T) {
	x := sparse.NewMatrix(2)
	x.Append(sparse.Vector{Idx: []uint32{0}, Val: []float32{1}})
	x.Append(sparse.Vector{Idx: []uint32{1}, Val: []float32{-5}})
	y := []int{0, 1}
	p := DefaultParams()
	p.Calibrate = false
	if _, err := Train(context.Background(), x, y, 2, p, 1, nil); err == nil || !strings.Contains(err.Error(), "negative feature") {
		t.Errorf("negative features with the blend: %v", err)
	}
	p.NaiveBayes = 0
	if _, err := Train(context.Background(), x, y, 2, p, 1, nil); err != nil {
		t.Errorf("negative features without the blend: %v", err)
	}
}
