package classifier

import (
	"fmt"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/model"
)

// Evaluate predicts every example with m and scores the predictions against
// the examples' labels. A label the model was not trained on counts as an
// error for its rows (it gets its own row in the report), not as a failure.
func Evaluate(m *model.Model, examples []dataset.Example) (metrics.Report, error) {
	labels := make([]string, len(m.Labels))
	index := make(map[string]int, len(m.Labels))
	for i, l := range m.Labels {
		labels[i], index[l.Code] = l.Code, i
	}
	yTrue, yPred := make([]int, len(examples)), make([]int, len(examples))
	for i, e := range examples {
		c, ok := index[e.Label]
		if !ok {
			c = len(labels)
			labels = append(labels, e.Label)
			index[e.Label] = c
		}
		yTrue[i], yPred[i] = c, m.Classify(e.Title, e.Body)
	}
	r, err := metrics.Evaluate(labels, yTrue, yPred)
	if err != nil {
		return metrics.Report{}, fmt.Errorf("evaluate: %w", err)
	}
	return r, nil
}
