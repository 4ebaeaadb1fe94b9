package linear

import (
	"math"

	"github.com/prodcat/prodcat/internal/sparse"
)

// nbSmoothing is the additive (Lidstone) smoothing of the naive Bayes
// feature masses. Features are TF-IDF values, so a row's mass is a few
// units and 0.001 of a unit per feature leaves a class's own mass to speak.
// 5-fold cross-validation on the rakuten and fashion training splits
// preferred it to 0.01 and 0.1 and found it level with 0.0003.
const nbSmoothing = 0.001

// naiveBayes writes into w (feature-major as Model.W, x.Cols·classes long)
// the multinomial naive Bayes log-likelihood of every feature under every
// class, and returns the log prior of every class, both estimated from the
// given rows of x. Class priors are add-one smoothed, so a class without
// rows is unlikely but not impossible.
func naiveBayes(x *sparse.Matrix, y []int, rows []int32, classes int, w []float32) (prior []float64) {
	// Accumulate each class's feature masses in w, then turn them into log
	// probabilities in place.
	clear(w)
	mass := make([]float64, classes)
	count := make([]float64, classes)
	for _, i := range rows {
		c := y[i]
		count[c]++
		r := x.Row(int(i))
		for q, col := range r.Idx {
			w[int(col)*classes+c] += r.Val[q]
			mass[c] += float64(r.Val[q])
		}
	}
	logTotal := make([]float64, classes)
	prior = make([]float64, classes)
	for c := range classes {
		logTotal[c] = math.Log(mass[c] + nbSmoothing*float64(x.Cols))
		prior[c] = math.Log((count[c] + 1) / (float64(len(rows)) + float64(classes)))
	}
	unseen := math.Log(nbSmoothing)
	for j := 0; j < len(w); j += classes {
		for c := range classes {
			l := unseen
			if m := w[j+c]; m > 0 {
				l = math.Log(float64(m) + nbSmoothing)
			}
			w[j+c] = float32(l - logTotal[c])
		}
	}
	return prior
}

// addNaiveBayes adds weight times the naive Bayes joint log-likelihood of
// row v under each class to the decision values in dst.
func addNaiveBayes(v sparse.Vector, w []float32, prior []float64, weight float64, dst []float64) {
	k := len(prior)
	for c := range k {
		s := prior[c]
		for q, col := range v.Idx {
			s += float64(v.Val[q]) * float64(w[int(col)*k+c])
		}
		dst[c] += weight * s
	}
}
