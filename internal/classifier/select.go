package classifier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/prodcat/prodcat/internal/metrics"
)

// Grid is the set of parameter values Select tries. Empty fields keep the
// base parameters' value.
type Grid struct {
	// C values for the solver.
	C []float64 `json:"c,omitempty"`
	// WordNgrams values (1 or 2).
	WordNgrams []int `json:"word_ngrams,omitempty"`
	// CharRanges are [min, max] character n-gram ranges; [0, 0] turns
	// character features off.
	CharRanges [][2]int `json:"char_ranges,omitempty"`
	// TitleWeights for the title block (0 turns it off).
	TitleWeights []float64 `json:"title_weights,omitempty"`
	// NaiveBayes weights of the solver's naive Bayes blend (0 turns it
	// off).
	NaiveBayes []float64 `json:"naive_bayes,omitempty"`
}

// DefaultGrid is the small grid --cv searches: 3 values of C, 2 word and 3
// character n-gram settings.
func DefaultGrid() Grid {
	return Grid{
		C:          []float64{0.5, 1, 2},
		WordNgrams: []int{1, 2},
		CharRanges: [][2]int{{0, 0}, {2, 5}, {3, 5}},
	}
}

// Candidate is one grid point with its cross-validated scores.
type Candidate struct {
	Params     Params    `json:"params"`
	WeightedF1 float64   `json:"weighted_f1"` // mean over folds
	Folds      []float64 `json:"folds"`
}

// Select runs k-fold cross-validation over grid around base on the labelled
// examples and returns the candidates, best first (ties keep grid order).
// Folds are stratified and fixed by base.Solver.Seed. The vectorizer is fitted
// once per fold and feature setting and shared by the solver settings.
func Select(ctx context.Context, examples []dataset.Example, base Params, grid Grid, folds int, o Options) ([]Candidate, error) {
	if folds < 2 {
		return nil, fmt.Errorf("select: %d folds: want at least 2", folds)
	}
	if folds > len(examples) {
		// An empty fold would score 0 and drag the mean down.
		return nil, fmt.Errorf("select: %d folds for %d examples: want at most one fold per example", folds, len(examples))
	}
	if err := base.Validate(); err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	labels, err := trainingLabels(examples)
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	y, err := Encode(examples, labels)
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	feats := featureGrid(base.Features, grid)
	solvers := solverGrid(base.Solver, grid)
	if err := grid.Check(base); err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	var cands []Candidate
	for _, fc := range feats {
		for _, sp := range solvers {
			cands = append(cands, Candidate{Params: Params{Features: fc, Solver: sp}})
		}
	}
	fold := assignFolds(y, len(labels), folds, base.Solver.Seed)
	docs := Documents(examples)
	for k := range folds {
		var trainRows, testRows []int
		for i, f := range fold {
			if f == k {
				testRows = append(testRows, i)
			} else {
				trainRows = append(trainRows, i)
			}
		}
		trDocs, teDocs := pick(docs, trainRows), pick(docs, testRows)
		trY, teY := pick(y, trainRows), pick(y, testRows)
		for fi, fc := range feats {
			v, err := features.Fit(ctx, trDocs, fc, o.Workers)
			if err != nil {
				return nil, fmt.Errorf("select: fold %d: %w", k, err)
			}
			xtr, err := v.Transform(ctx, trDocs, o.Workers)
			if err != nil {
				return nil, fmt.Errorf("select: fold %d: %w", k, err)
			}
			xte, err := v.Transform(ctx, teDocs, o.Workers)
			if err != nil {
				return nil, fmt.Errorf("select: fold %d: %w", k, err)
			}
			for si := range solvers {
				cand := &cands[fi*len(solvers)+si]
				lm, err := TrainLinear(ctx, xtr, trY, len(labels), cand.Params, Options{Workers: o.Workers})
				if err != nil {
					return nil, fmt.Errorf("select: fold %d: %w", k, err)
				}
				pred := make([]int, xte.Rows())
				var scores []float64
				for i := range pred {
					scores = lm.Scores(xte.Row(i), scores)
					pred[i] = lm.Classify(scores)
				}
				r, err := metrics.Evaluate(labels, teY, pred)
				if err != nil {
					return nil, fmt.Errorf("select: fold %d: %w", k, err)
				}
				cand.Folds = append(cand.Folds, r.WeightedF1)
				if o.Progress != nil {
					o.Progress(k*len(cands)+fi*len(solvers)+si+1, folds*len(cands))
				}
			}
		}
	}
	for i := range cands {
		var s float64
		for _, f := range cands[i].Folds {
			s += f
		}
		cands[i].WeightedF1 = s / float64(folds)
	}
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		switch {
		case a.WeightedF1 > b.WeightedF1:
			return -1
		case a.WeightedF1 < b.WeightedF1:
			return 1
		}
		return 0
	})
	if len(cands) == 0 {
		return nil, errors.New("select: empty grid")
	}
	return cands, nil
}

// Check reports whether every point of g around base is usable; it needs
// no data, so a wrong grid is refused before any is read.
func (g Grid) Check(base Params) error {
	for _, fc := range featureGrid(base.Features, g) {
		for _, sp := range solverGrid(base.Solver, g) {
			p := Params{Features: fc, Solver: sp}
			if err := p.Validate(); err != nil {
				return fmt.Errorf("grid point: %w", err)
			}
		}
	}
	return nil
}

// solverGrid expands the solver part of grid around base.
func solverGrid(base linear.Params, grid Grid) []linear.Params {
	var out []linear.Params
	for _, c := range orBase(grid.C, base.C) {
		for _, nb := range orBase(grid.NaiveBayes, base.NaiveBayes) {
			p := base
			p.C, p.NaiveBayes = c, nb
			out = append(out, p)
		}
	}
	return out
}

// featureGrid expands the feature part of grid around base.
func featureGrid(base features.Config, grid Grid) []features.Config {
	var out []features.Config
	for _, w := range orBase(grid.WordNgrams, base.WordNgrams) {
		for _, cr := range orBase(grid.CharRanges, [2]int{base.CharMin, base.CharMax}) {
			for _, tw := range orBase(grid.TitleWeights, base.TitleWeight) {
				c := base
				c.WordNgrams, c.CharMin, c.CharMax, c.TitleWeight = w, cr[0], cr[1], tw
				out = append(out, c)
			}
		}
	}
	return out
}

// orBase returns a grid's values, or the base value alone when it has none.
func orBase[T any](values []T, base T) []T {
	if len(values) == 0 {
		return []T{base}
	}
	return values
}

// assignFolds gives each row a fold in [0, k), stratified: within each
// class, rows are shuffled by seed and dealt round-robin.
func assignFolds(y []int, classes, k int, seed uint64) []int {
	byClass := make([][]int, classes)
	for i, c := range y {
		byClass[c] = append(byClass[c], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x666f6c6473))
	fold := make([]int, len(y))
	next := 0
	for _, rows := range byClass {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, i := range rows {
			fold[i] = next % k
			next++
		}
	}
	return fold
}

func pick[T any](s []T, rows []int) []T {
	out := make([]T, len(rows))
	for k, i := range rows {
		out[k] = s[i]
	}
	return out
}
