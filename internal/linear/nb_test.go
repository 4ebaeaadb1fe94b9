package linear

import (
	"context"
	"math"
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
			t.Errorf("naive bayes weight %v accepted", v)
		}
	}
	for _, v := range []float64{0, 0.015, maxNaiveBayes} {
		p := DefaultParams()
		p.NaiveBayes = v
		if err := p.Validate(); err != nil {
			t.Errorf("naive bayes weight %v: %v", v, err)
		}
	}
}
