package classifier

import (
	"fmt"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/model"
)

// maxUnknownLabels bounds the labels the model does not know that get a
// row of their own in a report; the others share OtherLabels. The
// confusion matrix grows with their square, and a test file labelled by
// mistake with an ID column has as many labels as rows.
const maxUnknownLabels = 100

// OtherLabels is the report row shared by the unknown labels past the
// first maxUnknownLabels.
const OtherLabels = "(other labels the model does not know)"

// Evaluate predicts every example with m and scores the predictions against
// the examples' labels, the probabilities included (Report.Calibration). A
// label the model was not trained on counts as an error for its rows (it
// gets its own row in the report, up to maxUnknownLabels of them, and
// probability 0), not as a failure.
func Evaluate(m *model.Model, examples []dataset.Example) (metrics.Report, error) {
	r, _, _, err := evaluate(m, examples)
	return r, err
}

// evaluate is Evaluate, which also returns which examples m gets right and
// how many have a label m does not know.
func evaluate(m *model.Model, examples []dataset.Example) (r metrics.Report, correct []bool, unknown int, err error) {
	labels := make([]string, len(m.Labels))
	index := make(map[string]int, len(m.Labels))
	for i, l := range m.Labels {
		labels[i], index[l.Code] = l.Code, i
	}
	n := len(examples)
	yTrue, yPred := make([]int, n), make([]int, n)
	pTrue, pPred := make([]float64, n), make([]float64, n)
	correct = make([]bool, n)
	var probs []float64
	for i, e := range examples {
		probs = m.Probabilities(e.Title, e.Body, probs)
		best := 0
		for c, p := range probs {
			if p > probs[best] {
				best = c
			}
		}
		c, ok := index[e.Label]
		if !ok || c >= len(m.Labels) {
			unknown++
		}
		if !ok {
			c = len(labels)
			if c-len(m.Labels) >= maxUnknownLabels {
				c = unknownRow(&labels, index)
			} else {
				labels = append(labels, e.Label)
			}
			index[e.Label] = c
		}
		yTrue[i], yPred[i], pPred[i], correct[i] = c, best, probs[best], c == best
		if c < len(probs) {
			pTrue[i] = probs[c]
		}
	}
	r, err = metrics.Evaluate(labels, yTrue, yPred)
	if err != nil {
		return metrics.Report{}, nil, 0, fmt.Errorf("evaluate: %w", err)
	}
	cal, err := metrics.EvaluateCalibration(pTrue, pPred, correct)
	if err != nil {
		return metrics.Report{}, nil, 0, fmt.Errorf("evaluate: %w", err)
	}
	r.Calibration = &cal
	return r, correct, unknown, nil
}

// unknownRow returns the row of OtherLabels, adding it on first use.
func unknownRow(labels *[]string, index map[string]int) int {
	if c, ok := index[OtherLabels]; ok {
		return c
	}
	c := len(*labels)
	*labels = append(*labels, OtherLabels)
	index[OtherLabels] = c
	return c
}
