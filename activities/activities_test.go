package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/semaphore"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/sirupsen/logrus"
)

// Faults of the data fail a stage at once; anything else is retried.
func TestClassifyDataFaults(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("fit: %w", features.ErrNoFeatures),
		fmt.Errorf("train: 70000 classes: %w", linear.ErrClasses),
		fmt.Errorf("read: %w", dataset.ErrBadData),
	} {
		var app *temporal.ApplicationError
		if got := classify("stage", err); !errors.As(got, &app) || app.Type() != ErrBadData || !app.NonRetryable() {
			t.Errorf("%v: classified as %v, want non-retryable %s", err, got, ErrBadData)
		}
	}
	var app *temporal.ApplicationError
	if got := classify("stage", errors.New("connection refused")); errors.As(got, &app) {
		t.Errorf("an outage classified as %v, want it retried", got)
	}
	// A feature file that is gone says why it may be.
	got := featuresError("read matrix", fmt.Errorf("get features/x.csr: %w", artifact.ErrNotFound))
	if !errors.As(got, &app) || app.Type() != ErrFeaturesGone || !app.NonRetryable() || !strings.Contains(got.Error(), "PRODCAT_FEATURES_EXPIRE_DAYS") {
		t.Errorf("a missing feature file: %v", got)
	}
	if got := featuresError("read matrix", errors.New("connection refused")); errors.As(got, new(*temporal.ApplicationError)) {
		t.Errorf("an outage reading features classified as %v, want it retried", got)
	}
}

// A store that cannot be read is reported once, not once per object; wrong
// headers are each reported.
func TestCheckHeaders(t *testing.T) {
	src := Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}
	down := errors.New("cannot reach S3")
	calls := 0
	err := src.CheckHeaders(func(string) ([]byte, error) { calls++; return nil, down })
	if !errors.Is(err, down) || calls != 1 || strings.Count(err.Error(), "cannot reach") != 1 {
		t.Errorf("store down: %v after %d reads", err, calls)
	}
	// Missing objects are each the object's fault: all are named.
	err = src.CheckHeaders(func(key string) ([]byte, error) { return nil, fmt.Errorf("%s: %w", key, artifact.ErrNotFound) })
	if !errors.Is(err, artifact.ErrNotFound) || !strings.Contains(err.Error(), "raw/x.csv") || !strings.Contains(err.Error(), "raw/y.csv") {
		t.Errorf("both missing: %v", err)
	}
	err = src.CheckHeaders(func(string) ([]byte, error) { return []byte("a,b\n1,2\n"), nil })
	if !errors.Is(err, dataset.ErrBadData) || !strings.Contains(err.Error(), "raw/x.csv") || !strings.Contains(err.Error(), "raw/y.csv") {
		t.Errorf("wrong headers: %v", err)
	}
	err = src.CheckHeaders(func(key string) ([]byte, error) {
		if key == src.XKey {
			return []byte(",designation,description,productid,imageid\n0,Chaise,,1,2\n"), nil
		}
		return []byte(",prdtypecode\n0,1560\n"), nil
	})
	if err != nil {
		t.Errorf("right headers: %v", err)
	}
}

// A version of a generic CSV records its columns; one of the challenge's
// files, or of a run from before, the challenge's signature.
func TestSignature(t *testing.T) {
	sig, err := signature(&Source{CSVKey: "raw/c.csv", TextCols: []string{"title", "desc"}, LabelCol: "category"})
	if err != nil {
		t.Fatal(err)
	}
	var got CSVSignature
	if err := json.Unmarshal(sig, &got); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.TextCols, ",") != "title,desc" || got.LabelCol != "category" || got.Inputs["desc"] != "string" || got.Outputs["category"] != "string" {
		t.Errorf("CSV signature %s", sig)
	}
	for _, src := range []*Source{nil, {XKey: "raw/x.csv", YKey: "raw/y.csv"}} {
		if sig, err := signature(src); err != nil || !strings.Contains(string(sig), `"designation"`) {
			t.Errorf("signature of %+v: %s, %v", src, sig, err)
		}
	}
}

// An activity that holds a data file waits for a data slot, shows that it
// waits, gives up when its context ends, and hands the slot back when done.
func TestHoldData(t *testing.T) {
	a := &Activities{DataSlots: semaphore.NewWeighted(1)}
	env := newActivityEnv(a)
	if !a.DataSlots.TryAcquire(1) { // another activity's
		t.Fatal("a fresh semaphore is full")
	}
	hold := func(ctx context.Context) error {
		var waiting atomic.Bool
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := a.holdData(cctx, &waiting); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("with every slot taken and the context ended: %v, want context.Canceled", err)
		}
		if waiting.Load() {
			return errors.New("still waiting after giving up")
		}
		type held struct {
			release func()
			err     error
		}
		got := make(chan held, 1)
		go func() {
			release, err := a.holdData(ctx, &waiting)
			got <- held{release, err}
		}()
		for !waiting.Load() {
			select {
			case h := <-got:
				return fmt.Errorf("took a slot none was free for: %v", h.err)
			case <-time.After(time.Millisecond):
			}
		}
		a.DataSlots.Release(1) // the other activity ends
		h := <-got
		if h.err != nil {
			return h.err
		}
		if waiting.Load() {
			return errors.New("still waiting with the slot taken")
		}
		if a.DataSlots.TryAcquire(1) {
			return errors.New("the slot was not taken")
		}
		h.release()
		if !a.DataSlots.TryAcquire(1) {
			return errors.New("the slot was not given back")
		}
		return nil
	}
	env.RegisterActivity(hold)
	if _, err := env.ExecuteActivity(hold); err != nil {
		t.Fatal(err)
	}
}

// A stage on a worker that starts stopping gives up after the grace and
// says so, so that another worker retries it at once; one that ends within
// the grace, or on a worker that keeps running, is left alone.
func TestUntilWorkerStops(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	a := &Activities{Log: log}
	env := newActivityEnv(a)
	stop := make(chan struct{})
	env.SetWorkerStopChannel(stop)
	stage := func(ctx context.Context, stopFirst bool) error {
		ctx, done := a.untilWorkerStops(ctx, "train", 50*time.Millisecond)
		if stopFirst {
			close(stop)
		}
		select {
		case <-ctx.Done():
			return done(fmt.Errorf("train: %w", ctx.Err()))
		case <-time.After(time.Second):
			return done(nil)
		}
	}
	env.RegisterActivity(stage)
	_, err := env.ExecuteActivity(stage, false)
	if err != nil {
		t.Errorf("a stage on a worker that keeps running: %v", err)
	}
	_, err = env.ExecuteActivity(stage, true)
	if err == nil || !strings.Contains(err.Error(), "the worker is stopping; another worker retries the stage") {
		t.Errorf("a stage on a stopping worker: %v", err)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		t.Errorf("a stage given up on a stopping worker is not retried: %v", err)
	}
}
