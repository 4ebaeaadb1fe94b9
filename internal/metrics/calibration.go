package metrics

import (
	"fmt"
	"math"
)

// Calibration measures whether predicted probabilities mean what they say.
type Calibration struct {
	// LogLoss is the mean of −ln p(true label), with p clipped at 1e-15 as
	// scikit-learn's log_loss does: lower is better, and a model that
	// gives its true labels probability 1 scores 0.
	LogLoss float64 `json:"log_loss"`
	// ECE is the expected calibration error over CalibrationBins
	// equal-width bins of the predicted label's probability: the mean, over
	// examples, of |confidence − accuracy| within each example's bin.
	ECE float64 `json:"ece"`
}

// CalibrationBins is the number of confidence bins ECE uses.
const CalibrationBins = 10

// EvaluateCalibration scores probabilistic predictions. For each example,
// pTrue is the probability given to its true label (0 when the model does
// not know the label), pPred the probability of the predicted label and
// correct whether the prediction was right. Empty input gives zeros.
func EvaluateCalibration(pTrue, pPred []float64, correct []bool) (Calibration, error) {
	n := len(pTrue)
	if len(pPred) != n || len(correct) != n {
		return Calibration{}, fmt.Errorf("metrics: %d, %d and %d calibration inputs: want equal lengths", n, len(pPred), len(correct))
	}
	var c Calibration
	if n == 0 {
		return c, nil
	}
	var conf, hits [CalibrationBins]float64
	for i := range n {
		pt, pp := pTrue[i], pPred[i]
		if !(pt >= 0 && pt <= 1) || !(pp >= 0 && pp <= 1) {
			return Calibration{}, fmt.Errorf("metrics: example %d: probabilities %v and %v outside [0, 1]", i, pt, pp)
		}
		c.LogLoss -= math.Log(max(pt, 1e-15))
		b := min(int(pp*CalibrationBins), CalibrationBins-1)
		conf[b] += pp
		if correct[i] {
			hits[b]++
		}
	}
	c.LogLoss /= float64(n)
	for b := range conf {
		c.ECE += math.Abs(conf[b] - hits[b])
	}
	c.ECE /= float64(n)
	return c, nil
}
