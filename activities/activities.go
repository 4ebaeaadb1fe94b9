// Package activities implements the stages of prodcat's Temporal workflows
// as methods on Activities, which holds their dependencies. Activities are
// thin: they fetch artifacts, call the ML core and the registry, and store
// what they produce under content-addressed keys, so running one again
// after it succeeded writes the same objects and creates no new records.
package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/semaphore"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
)

// HoldoutSalt fixes the hash-based holdout split: the same data always
// holds out the same rows, so runs on it are compared on the same holdout.
const HoldoutSalt = "prodcat-holdout-v1"

// Activities runs the pipeline stages against the artifact store and the
// registry.
type Activities struct {
	Store    *artifact.Store
	Registry *registry.Registry
	Log      logrus.FieldLogger
	// CodeVersion (the git commit) is recorded with every run and model.
	CodeVersion string
	// Workers bounds the goroutines of CPU-heavy stages; 0 means all cores.
	Workers int
	// DataSlots, when set, bounds the activities that hold a data file in
	// memory (Ingest, Evaluate, Register, BatchPredict, CompareVersions) at
	// once; the others wait for a slot. Light activities, such as recording
	// a failure, never wait behind them.
	DataSlots *semaphore.Weighted
}

// holdData waits for one of the data slots and returns its release. It
// sets waiting while it waits, for the stage's heartbeat to show.
func (a *Activities) holdData(ctx context.Context, waiting *atomic.Bool) (release func(), err error) {
	if a.DataSlots == nil {
		return func() {}, nil
	}
	if !a.DataSlots.TryAcquire(1) {
		a.logger(ctx).Info("waiting for a data slot: the worker holds as many data files as PRODCAT_DATA_ACTIVITIES allows")
		waiting.Store(true)
		defer waiting.Store(false)
		if err := a.DataSlots.Acquire(ctx, 1); err != nil {
			return nil, fmt.Errorf("wait for a data slot: %w", err)
		}
	}
	return func() { a.DataSlots.Release(1) }, nil
}

// logger returns the activity's logger with its workflow coordinates.
func (a *Activities) logger(ctx context.Context) logrus.FieldLogger {
	info := activity.GetInfo(ctx)
	return a.Log.WithFields(logrus.Fields{
		"activity":    info.ActivityType.Name,
		"workflow_id": info.WorkflowExecution.ID,
		"run_id":      info.WorkflowExecution.RunID,
		"attempt":     info.Attempt,
	})
}

// badData returns a non-retryable error: retrying cannot fix the input.
func badData(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrBadData, nil)
}

// badParams returns a non-retryable error: retrying cannot fix the request.
func badParams(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrBadParams, nil)
}

// noModel returns a non-retryable error: there is nothing to predict with.
func noModel(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrNoModel, nil)
}

// classify turns an error from the ML core, the store or the registry
// into a non-retryable error when it is about the data or the request,
// and leaves it retryable otherwise (a store or a database that is down
// may come back).
func classify(op string, err error) error {
	switch {
	case errors.Is(err, dataset.ErrBadData), errors.Is(err, features.ErrNoFeatures), errors.Is(err, linear.ErrClasses):
		return badData("%s: %v", op, err)
	case errors.Is(err, artifact.ErrNotFound), errors.Is(err, artifact.ErrCorrupt), errors.Is(err, artifact.ErrBadKey):
		return badData("%s: %v", op, err)
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrInvalid), errors.Is(err, registry.ErrRunFinished):
		// A record that is missing, refused or already final stays so.
		return badParams("%s: %v", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// heartbeat records progress every second until the returned stop is
// called, so a worker that dies mid-stage is noticed within seconds.
// details is read on each beat and must be safe for concurrent use.
func heartbeat(ctx context.Context, details func() any) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		activity.RecordHeartbeat(ctx, details())
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details())
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// putJSON stores v as a JSON artifact of the given kind.
func (a *Activities) putJSON(ctx context.Context, kind string, v any, ext string) (artifact.Ref, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return artifact.Ref{}, fmt.Errorf("encode %s: %w", kind, err)
	}
	return a.Store.Put(ctx, kind, data, ext, "application/json")
}

// snapshot reads a dataset snapshot artifact.
func (a *Activities) snapshot(ctx context.Context, key string) ([]dataset.Example, error) {
	data, err := a.Store.Get(ctx, key)
	if err != nil {
		return nil, classify("read snapshot", err)
	}
	ex, err := dataset.ReadSnapshot(bytes.NewReader(data))
	if err != nil {
		return nil, classify("read snapshot "+key, err)
	}
	return ex, nil
}

// loadModel reads and decodes a model file artifact.
func (a *Activities) loadModel(ctx context.Context, key string) (*model.Model, error) {
	data, err := a.Store.Get(ctx, key)
	if err != nil {
		return nil, classify("read model", err)
	}
	m, err := model.Decode(data)
	if err != nil {
		return nil, badData("decode model %s: %v", key, err)
	}
	return m, nil
}

// loadModelFor loads a model file as loadModel does, for op, which starts
// its errors; a non-retryable one stays so.
func (a *Activities) loadModelFor(ctx context.Context, key, op string) (*model.Model, error) {
	m, err := a.loadModel(ctx, key)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		return nil, temporal.NewNonRetryableApplicationError(op+": "+app.Message(), app.Type(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return m, nil
}

// stopGrace is how long a heavy stage goes on once its worker starts
// stopping (a deploy, a scale-down). Past it the stage gives up and says
// so, and Temporal retries it on another worker at once, rather than after
// the heartbeat timeout once the worker has gone without a word. It stays
// under the worker's WorkerStopTimeout (30 s), so the failure is reported.
const stopGrace = 20 * time.Second

// errWorkerStopping is why a stage gave up on a worker that is stopping.
var errWorkerStopping = errors.New("the worker is stopping; another worker retries the stage")

// untilWorkerStops returns ctx ended grace after the worker starts
// stopping, and done, which releases it and returns the stage's error,
// or errWorkerStopping when that is why the stage failed.
func (a *Activities) untilWorkerStops(ctx context.Context, stage string, grace time.Duration) (context.Context, func(error) error) {
	sctx, cancel := context.WithCancelCause(ctx)
	finished := make(chan struct{})
	go func() {
		select {
		case <-activity.GetWorkerStopChannel(ctx):
		case <-finished:
			return
		}
		select {
		case <-time.After(grace):
			cancel(errWorkerStopping)
		case <-finished:
		}
	}()
	return sctx, func(err error) error {
		close(finished)
		defer cancel(nil)
		if err != nil && errors.Is(context.Cause(sctx), errWorkerStopping) {
			a.logger(ctx).WithField("stage", stage).Warn("stopping: gave up a stage still running; another worker retries it")
			return fmt.Errorf("%s: %w", stage, errWorkerStopping)
		}
		return err
	}
}
