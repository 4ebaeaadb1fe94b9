package classifier

import (
	"context"
	"fmt"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/model"
)

// Score is how one model of a comparison did on its rows.
type Score struct {
	Report metrics.Report
	// UnknownLabels counts the rows whose label the model was not trained
	// on: they count as mistakes.
	UnknownLabels int
}

// Pair is how models A and B (indexes into Compare's models) differ on the
// same rows: the rows only one of them gets right, and McNemar's exact
// p-value of that split (under 0.05, the difference is unlikely to be
// chance).
type Pair struct {
	A, B                   int
	OnlyARight, OnlyBRight int
	McNemarP               float64
}

// CompareError says which model of a comparison could not be scored.
type CompareError struct {
	Model int // index into Compare's models
	Err   error
}

func (e *CompareError) Error() string { return fmt.Sprintf("model %d: %v", e.Model, e.Err) }
func (e *CompareError) Unwrap() error { return e.Err }

// Compare scores each model on examples, as Evaluate does, and compares
// every two of them row by row. done, if not nil, is called with the
// number of models scored so far. A model that cannot be scored fails it
// with a *CompareError.
func Compare(ctx context.Context, models []*model.Model, examples []dataset.Example, done func(models int)) ([]Score, []Pair, error) {
	scores := make([]Score, len(models))
	right := make([][]bool, len(models))
	for i, m := range models {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		r, correct, unknown, err := evaluate(m, examples)
		if err != nil {
			return nil, nil, &CompareError{Model: i, Err: err}
		}
		scores[i], right[i] = Score{Report: r, UnknownLabels: unknown}, correct
		if done != nil {
			done(i + 1)
		}
	}
	var pairs []Pair
	for i := range models {
		for j := i + 1; j < len(models); j++ {
			p := Pair{A: i, B: j}
			for k := range examples {
				switch {
				case right[i][k] && !right[j][k]:
					p.OnlyARight++
				case right[j][k] && !right[i][k]:
					p.OnlyBRight++
				}
			}
			p.McNemarP = metrics.McNemarExact(p.OnlyARight, p.OnlyBRight)
			pairs = append(pairs, p)
		}
	}
	return scores, pairs, nil
}
