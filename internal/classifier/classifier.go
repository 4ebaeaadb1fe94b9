// Package classifier is the training API of prodcat's ML core. It exposes
// the stages the training pipeline runs as separate activities, each with an
// artifact that can be stored between them:
//
//  1. FitVectorizer learns the TF-IDF vocabulary (marshal the result);
//  2. Transform turns documents into a sparse matrix (marshal it);
//  3. TrainLinear fits the linear model, with cancellation and progress;
//  4. Assemble bundles vectorizer, weights, labels and lineage into a
//     model.Model whose Encode gives the model file.
//
// Train runs all four in one call, and Select chooses parameters by k-fold
// cross-validation over a small grid. Probabilities are calibrated inside
// TrainLinear (a per-class scale and offset of the decision values, fitted
// on rows held out of the first training phase).
package classifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/sparse"
	"github.com/prodcat/prodcat/internal/taxonomy"
)

// Params are all training parameters. They are JSON-serialisable: they
// travel in workflow payloads and are recorded with each model version.
type Params struct {
	Features features.Config `json:"features"`
	Solver   linear.Params   `json:"solver"`
}

// DefaultParams returns the parameters used when none are given. They are
// the same for every data set.
func DefaultParams() Params {
	return Params{Features: features.DefaultConfig(), Solver: linear.DefaultParams()}
}

// Validate reports whether p is usable.
func (p Params) Validate() error {
	if err := p.Features.Validate(); err != nil {
		return fmt.Errorf("params: features: %w", err)
	}
	if err := p.Solver.Validate(); err != nil {
		return fmt.Errorf("params: solver: %w", err)
	}
	return nil
}

// Options are the run-time settings of a training, which do not change the
// model: the same data and Params give the same bytes whatever Options are.
type Options struct {
	// Workers bounds the goroutines; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is told about solver progress.
	Progress linear.Progress
}

// Documents returns the feature documents of examples.
func Documents(examples []dataset.Example) []features.Document {
	docs := make([]features.Document, len(examples))
	for i, e := range examples {
		docs[i] = features.Document{Title: e.Title, Body: e.Body}
	}
	return docs
}

// Encode maps the examples' labels to indices into labels (sorted as
// dataset.Labels sorts them). It fails on a label not in labels.
func Encode(examples []dataset.Example, labels []string) ([]int, error) {
	index := make(map[string]int, len(labels))
	for i, l := range labels {
		index[l] = i
	}
	y := make([]int, len(examples))
	for i, e := range examples {
		c, ok := index[e.Label]
		if !ok {
			return nil, fmt.Errorf("example %s: label %q is not in the label set", e.ID, e.Label)
		}
		y[i] = c
	}
	return y, nil
}

// FitVectorizer is stage 1: it learns the feature space from the training
// documents.
func FitVectorizer(ctx context.Context, docs []features.Document, p Params, o Options) (*features.Vectorizer, error) {
	return features.Fit(ctx, docs, p.Features, o.Workers)
}

// Transform is stage 2: the TF-IDF matrix of docs under v.
func Transform(ctx context.Context, v *features.Vectorizer, docs []features.Document, o Options) (*sparse.Matrix, error) {
	return v.Transform(ctx, docs, o.Workers)
}

// TrainLinear is stage 3: it fits the linear model to x and labels y, which
// index into a label set of the given size.
func TrainLinear(ctx context.Context, x *sparse.Matrix, y []int, classes int, p Params, o Options) (*linear.Model, error) {
	return linear.Train(ctx, x, y, classes, p.Solver, o.Workers, o.Progress)
}

// Assemble is stage 4: it bundles the parts into a model. metadata is
// lineage recorded in the file; it may be nil.
func Assemble(v *features.Vectorizer, lm *linear.Model, labels []string, p Params, metadata map[string]string) (*model.Model, error) {
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("assemble model: %w", err)
	}
	m := &model.Model{Vectorizer: v, Linear: lm, Params: pj, Metadata: metadata}
	for _, code := range labels {
		m.Labels = append(m.Labels, model.Label{Code: code})
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("assemble model: %w", err)
	}
	return m, nil
}

// NameRakuten names m's labels from the Rakuten taxonomy, in French and
// English. It is for models of the challenge's files, whose labels are
// prdtypecodes: other data's codes may look the same and mean something
// else.
func NameRakuten(m *model.Model) {
	for i, l := range m.Labels {
		if c, ok := taxonomy.Lookup(l.Code); ok {
			m.Labels[i].FR, m.Labels[i].EN = c.FR, c.EN
		}
	}
}

// trainingLabels returns the sorted distinct labels of examples, which
// must be at least two, and every example labelled.
func trainingLabels(examples []dataset.Example) ([]string, error) {
	labels := dataset.Labels(examples)
	if len(labels) < 2 {
		return nil, fmt.Errorf("%d distinct labels: want at least 2", len(labels))
	}
	if slices.Contains(labels, "") {
		return nil, errors.New("some examples have no label")
	}
	return labels, nil
}

// Train runs the four stages on labelled examples and returns the model.
func Train(ctx context.Context, examples []dataset.Example, p Params, o Options, metadata map[string]string) (*model.Model, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	labels, err := trainingLabels(examples)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	y, err := Encode(examples, labels)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	docs := Documents(examples)
	v, err := FitVectorizer(ctx, docs, p, o)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	x, err := Transform(ctx, v, docs, o)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	lm, err := TrainLinear(ctx, x, y, len(labels), p, o)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return Assemble(v, lm, labels, p, metadata)
}
