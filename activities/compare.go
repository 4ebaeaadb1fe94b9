package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
)

// CompareStage names a comparison's one stage in its heartbeat.
const CompareStage = "compare"

// MaxCompareVersions bounds the versions one comparison scores: each is a
// model file in memory, and the pairs grow with their square.
const MaxCompareVersions = 10

// CompareInput names registered versions of a model and a labelled test
// set in the bucket to score them on: the challenge's X and Y files, or a
// generic CSV with its columns (no feed: it holds training data).
type CompareInput struct {
	ModelName string `json:"model_name"`
	Versions  []int  `json:"versions"`
	Source    Source `json:"source"`
	// MaxRejectFraction fails the comparison when more of the file's rows
	// cannot be read; 1 accepts any.
	MaxRejectFraction float64 `json:"max_reject_fraction"`
}

// CheckVersions reports whether in's versions and reject share can be
// compared, naming the fields as the API's request does: the checks that
// need no service and no column defaults.
func (in CompareInput) CheckVersions() error {
	if err := registry.CheckModelName(in.ModelName); err != nil {
		return err
	}
	switch {
	case len(in.Versions) == 0 || len(in.Versions) > MaxCompareVersions:
		return fmt.Errorf("versions: %d given; want 1 to %d", len(in.Versions), MaxCompareVersions)
	case !(in.MaxRejectFraction > 0 && in.MaxRejectFraction <= 1):
		return fmt.Errorf("max_reject_fraction %v: want a share in (0, 1]", in.MaxRejectFraction)
	}
	for i, v := range in.Versions {
		if v < 1 {
			return fmt.Errorf("versions: %d is not a version number", v)
		}
		if slices.Contains(in.Versions[:i], v) {
			return fmt.Errorf("versions: %d is given twice", v)
		}
	}
	return nil
}

// Check reports whether in can be compared at all: CheckVersions, and a
// source of object keys and columns (no feed: it holds training data).
func (in CompareInput) Check() error {
	if in.Source.Feed != "" {
		return errors.New("source: a feed holds training data; give the test set's object keys")
	}
	return errors.Join(in.CheckVersions(), in.Source.Validate(), in.Source.CheckKeys(), in.Source.CheckColumns())
}

// Comparison is what CompareVersions returns and starter models evaluate
// prints: versions scored on the same labelled rows, and every two
// compared row by row.
type Comparison struct {
	Model    string `json:"model"`
	Rows     int    `json:"rows"`
	Rejected int    `json:"rejected"`
	// Versions are in the order given.
	Versions []VersionScore `json:"versions"`
	Pairs    []VersionPair  `json:"pairs"`
}

// VersionScore is a version's figures on the rows of a comparison.
type VersionScore struct {
	Version    int     `json:"version"`
	WeightedF1 float64 `json:"weighted_f1"`
	MacroF1    float64 `json:"macro_f1"`
	Accuracy   float64 `json:"accuracy"`
	LogLoss    float64 `json:"log_loss"`
	ECE        float64 `json:"ece"`
	// UnknownLabels counts rows whose label the version does not know:
	// they count as mistakes.
	UnknownLabels int `json:"unknown_labels"`
}

// VersionPair says how versions A and B differ on the same rows: the rows
// only one of them gets right, and McNemar's exact test of whether that
// split could be chance (under 0.05, it is unlikely to be).
type VersionPair struct {
	A          int     `json:"a"`
	B          int     `json:"b"`
	OnlyARight int     `json:"only_a_right"`
	OnlyBRight int     `json:"only_b_right"`
	McNemarP   float64 `json:"mcnemar_p"`
}

// Compare scores models[i], version versions[i] of model name, on test and
// compares every two. done is as classifier.Compare's.
func Compare(ctx context.Context, name string, versions []int, models []*model.Model, test *dataset.Dataset, done func(models int)) (Comparison, error) {
	scores, pairs, err := classifier.Compare(ctx, models, test.Examples, done)
	if ce := (*classifier.CompareError)(nil); errors.As(err, &ce) {
		return Comparison{}, fmt.Errorf("compare: version %d: %w", versions[ce.Model], ce.Err)
	}
	if err != nil {
		return Comparison{}, fmt.Errorf("compare: %w", err)
	}
	c := Comparison{Model: name, Rows: len(test.Examples), Rejected: len(test.Rejects), Versions: []VersionScore{}, Pairs: []VersionPair{}}
	for i, s := range scores {
		v := VersionScore{Version: versions[i], WeightedF1: s.Report.WeightedF1, MacroF1: s.Report.MacroF1, Accuracy: s.Report.Accuracy, UnknownLabels: s.UnknownLabels}
		if cal := s.Report.Calibration; cal != nil {
			v.LogLoss, v.ECE = cal.LogLoss, cal.ECE
		}
		c.Versions = append(c.Versions, v)
	}
	for _, p := range pairs {
		c.Pairs = append(c.Pairs, VersionPair{A: versions[p.A], B: versions[p.B], OnlyARight: p.OnlyARight, OnlyBRight: p.OnlyBRight, McNemarP: p.McNemarP})
	}
	return c, nil
}

// CompareVersions scores registered versions of a model on a labelled test
// set in the bucket, on the same rows, and compares every two row by row.
// It writes nothing, so a retry is harmless.
func (a *Activities) CompareVersions(ctx context.Context, in CompareInput) (res Comparison, err error) {
	ctx, done := a.untilWorkerStops(ctx, "compare versions", stopGrace)
	defer func() { err = done(err) }()
	return a.compareVersions(ctx, in)
}

func (a *Activities) compareVersions(ctx context.Context, in CompareInput) (Comparison, error) {
	var (
		scored  atomic.Int64
		waiting atomic.Bool
	)
	defer heartbeat(ctx, func() any {
		return StageProgress{Stage: CompareStage, Done: scored.Load(), Total: int64(len(in.Versions)), Unit: "versions", WaitingForDataSlot: waiting.Load()}
	})()
	if err := in.Check(); err != nil {
		return Comparison{}, badParams("compare versions: %v", err)
	}
	release, err := a.holdData(ctx, &waiting)
	if err != nil {
		return Comparison{}, err
	}
	defer release()
	// The test set first: it is the likelier mistake, and cheaper to find
	// than every model file.
	objects, err := a.getObjects(ctx, in.Source, func(file string, err error) error {
		return classify("compare versions: read "+file, err)
	})
	if err != nil {
		return Comparison{}, err
	}
	test, err := in.Source.readLabelled(objects, dataset.Options{MaxRejectFraction: in.MaxRejectFraction})
	if errors.Is(err, dataset.ErrBadData) {
		return Comparison{}, badData("compare versions: %v", err)
	}
	if err != nil {
		// ReadCSV refuses columns given twice and the like as a usage error.
		return Comparison{}, badParams("compare versions: %v", err)
	}
	models := make([]*model.Model, len(in.Versions))
	for i, n := range in.Versions {
		v, err := a.Registry.Version(ctx, in.ModelName, n)
		if errors.Is(err, registry.ErrNotFound) {
			return Comparison{}, noModel("compare versions: model %s has no version %d", in.ModelName, n)
		}
		if err != nil {
			return Comparison{}, classify(fmt.Sprintf("compare versions: model %s v%d", in.ModelName, n), err)
		}
		if models[i], err = a.loadModelFor(ctx, v.ArtifactKey, fmt.Sprintf("compare versions: model %s v%d", in.ModelName, n)); err != nil {
			return Comparison{}, err
		}
	}
	res, err := Compare(ctx, in.ModelName, in.Versions, models, test, func(n int) { scored.Store(int64(n)) })
	if err != nil {
		return Comparison{}, err
	}
	a.logger(ctx).WithFields(map[string]any{"model": in.ModelName, "versions": in.Versions, "rows": res.Rows, "rejected": res.Rejected}).Info("versions compared")
	return res, nil
}
