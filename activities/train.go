package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/sparse"
)

// PredictStage names a batch prediction's one stage in its heartbeat.
const PredictStage = "predict"

// StageProgress is the heartbeat detail of the stages.
type StageProgress struct {
	Stage string `json:"stage"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	// Unit is what Done and Total count: steps, classes or rows.
	Unit string `json:"unit,omitempty"`
	// WaitingForDataSlot is set while the stage waits for one of the
	// worker's PRODCAT_DATA_ACTIVITIES slots.
	WaitingForDataSlot bool `json:"waiting_for_data_slot,omitempty"`
}

// Features fits the vectorizer on the training part and writes it with the
// training matrix.
func (a *Activities) Features(ctx context.Context, in FeaturesInput) (res FeaturesResult, err error) {
	ctx, done := a.untilWorkerStops(ctx, "features", stopGrace)
	defer func() { err = done(err) }()
	return a.features(ctx, in)
}

func (a *Activities) features(ctx context.Context, in FeaturesInput) (FeaturesResult, error) {
	if err := in.Params.Validate(); err != nil {
		return FeaturesResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadParams, nil)
	}
	var done atomic.Int64
	defer heartbeat(ctx, func() any {
		return StageProgress{Stage: "features", Done: done.Load(), Total: 2, Unit: "steps (fit, transform)"}
	})()
	train, err := a.snapshot(ctx, in.TrainKey)
	if err != nil {
		return FeaturesResult{}, err
	}

	docs := classifier.Documents(train)
	opts := classifier.Options{Workers: a.Workers}
	v, err := classifier.FitVectorizer(ctx, docs, in.Params, opts)
	if err != nil {
		return FeaturesResult{}, classify("fit vectorizer", err)
	}
	done.Store(1)
	x, err := classifier.Transform(ctx, v, docs, opts)
	if err != nil {
		return FeaturesResult{}, classify("transform", err)
	}
	done.Store(2)
	vb, err := v.MarshalBinary()
	if err != nil {
		return FeaturesResult{}, fmt.Errorf("encode vectorizer: %w", err)
	}
	// Written afresh even when there from an earlier run on the same data,
	// as feature files expire by age (PRODCAT_FEATURES_EXPIRE_DAYS).
	vref, err := a.keep(ctx, "vectorizer", func(ctx context.Context) (artifact.Ref, error) {
		return a.Store.PutFresh(ctx, artifact.Features, vb, ".vectorizer", "application/octet-stream")
	})
	if err != nil {
		return FeaturesResult{}, err
	}
	// The matrix is encoded as it is sent: it is the largest thing a
	// training holds, and an encoded copy would double it.
	xref, err := a.keep(ctx, "feature matrix", func(ctx context.Context) (artifact.Ref, error) {
		return a.Store.PutFreshFrom(ctx, artifact.Features, x, ".csr", "application/octet-stream")
	})
	if err != nil {
		return FeaturesResult{}, err
	}
	a.logger(ctx).WithFields(map[string]any{"features": v.NumFeatures(), "rows": x.Rows(), "nnz": x.NNZ()}).Info("features built")
	return FeaturesResult{VectorizerKey: vref.Key, MatrixKey: xref.Key, Features: v.NumFeatures(), Rows: x.Rows()}, nil
}

// Train fits the linear model on the stored training matrix and writes the
// model file. It heartbeats the solver's progress every second; a retry
// starts cleanly from the stored inputs, since training is deterministic.
func (a *Activities) Train(ctx context.Context, in TrainInput) (res TrainResult, err error) {
	ctx, done := a.untilWorkerStops(ctx, "train", stopGrace)
	defer func() { err = done(err) }()
	return a.train(ctx, in)
}

func (a *Activities) train(ctx context.Context, in TrainInput) (TrainResult, error) {
	start := time.Now()
	if err := in.Params.Validate(); err != nil {
		return TrainResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadParams, nil)
	}
	// Heartbeat from the start: loading the inputs of a large data set
	// takes longer than the heartbeat timeout.
	var done, total atomic.Int64
	defer heartbeat(ctx, func() any {
		return StageProgress{Stage: "train", Done: done.Load(), Total: total.Load(), Unit: "classes"}
	})()
	train, err := a.snapshot(ctx, in.TrainKey)
	if err != nil {
		return TrainResult{}, err
	}
	vb, err := a.Store.Get(ctx, in.Features.VectorizerKey)
	if err != nil {
		return TrainResult{}, featuresError("read vectorizer", err)
	}
	v := new(features.Vectorizer)
	if err := v.UnmarshalBinary(vb); err != nil {
		return TrainResult{}, badData("decode vectorizer %s: %v", in.Features.VectorizerKey, err)
	}
	// The matrix, the largest input, is decoded as it is read rather than
	// from a copy of its bytes.
	var (
		x         *sparse.Matrix
		decodeErr error
	)
	err = a.Store.ReadWith(ctx, in.Features.MatrixKey, func(r io.Reader, size int64) error {
		x, decodeErr = sparse.ReadMatrix(r, size)
		return decodeErr
	})
	switch {
	case err != nil && errors.Is(err, decodeErr):
		return TrainResult{}, badData("decode matrix %s: %v", in.Features.MatrixKey, err)
	case err != nil:
		return TrainResult{}, featuresError("read matrix", err)
	}
	labels := dataset.Labels(train)
	y, err := classifier.Encode(train, labels)
	if err != nil {
		return TrainResult{}, badData("train: %v", err)
	}
	if x.Rows() != len(y) {
		return TrainResult{}, badData("train: matrix has %d rows, snapshot %d", x.Rows(), len(y))
	}
	if x.Cols != v.NumFeatures() {
		return TrainResult{}, badData("train: matrix has %d columns, vectorizer %d features", x.Cols, v.NumFeatures())
	}

	total.Store(int64(len(labels)))
	lm, err := classifier.TrainLinear(ctx, x, y, len(labels), in.Params, classifier.Options{
		Workers:  a.Workers,
		Progress: func(d, t int) { done.Store(int64(d)); total.Store(int64(t)) },
	})
	if err != nil {
		return TrainResult{}, classify("train", err)
	}
	if lm.Unconverged > 0 {
		a.logger(ctx).WithFields(map[string]any{"unconverged": lm.Unconverged, "max_iter": in.Params.Solver.MaxIter, "tol": in.Params.Solver.Tol}).
			Warn("the solver stopped at max_iter before reaching tol; the model may be less accurate (raise max_iter or tol)")
	}
	// Only what determines the bytes goes into the file, so the same data,
	// parameters and code give the same model; run lineage is in the registry.
	m, err := classifier.Assemble(v, lm, labels, in.Params, map[string]string{
		"dataset_digest": in.DatasetDigest,
		"code_version":   a.CodeVersion,
	})
	if err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	if in.Rakuten == nil || *in.Rakuten {
		classifier.NameRakuten(m)
	}
	data, err := m.Encode()
	if err != nil {
		return TrainResult{}, fmt.Errorf("train: encode model: %w", err)
	}
	ref, err := a.keep(ctx, "model file", func(ctx context.Context) (artifact.Ref, error) {
		return a.Store.Put(ctx, artifact.Model, data, ".bin", "application/octet-stream")
	})
	if err != nil {
		return TrainResult{}, err
	}
	secs := time.Since(start).Seconds()
	a.logger(ctx).WithFields(map[string]any{"model": ref.Key, "bytes": ref.Size, "seconds": secs}).Info("model trained")
	return TrainResult{Model: ref, Seconds: secs}, nil
}

// featuresError classifies a failure to read what Features wrote. Feature
// files expire (PRODCAT_FEATURES_EXPIRE_DAYS), so one that is gone most
// likely waited longer than that for a training worker.
func featuresError(op string, err error) error {
	if errors.Is(err, artifact.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: %v; feature files expire after PRODCAT_FEATURES_EXPIRE_DAYS days (the run waited that long for a training worker?): start the training again", op, err),
			ErrFeaturesGone, nil)
	}
	return classify(op, err)
}
