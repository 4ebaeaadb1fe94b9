package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/workflows"
)

// TestTemporalTrainer starts, reads, lists and terminates a training on
// the real Temporal. The run goes to a task queue of its own that no
// worker polls, so nothing is trained and no model is registered.
func TestTemporalTrainer(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	tr := &temporalTrainer{c: c, queue: servingtest.RandomName("apitest-queue-"), namespace: cfg.Temporal.Namespace, uiURL: cfg.Temporal.UIURL}
	ctx := t.Context()

	id := servingtest.RandomName("apitest-train-")
	p := workflows.TrainingParams{ModelName: servingtest.RandomName("apitest-"), Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}}
	started, err := tr.Start(ctx, id, p.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.TerminateWorkflow(context.Background(), id, "", "test cleanup")
	})
	if started.WorkflowID != id || started.RunID == "" || started.UIURL != workflows.UILink(cfg.Temporal.UIURL, cfg.Temporal.Namespace, id, started.RunID) {
		t.Errorf("started %+v", started)
	}
	var ae *apiError
	if _, err := tr.Start(ctx, id, p.WithDefaults()); !errors.As(err, &ae) || ae.status != 409 {
		t.Errorf("second start with the same ID: %v, want a 409", err)
	}

	got, err := tr.Get(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "running" || got.RunID != started.RunID || got.Progress != nil || got.StartTime.IsZero() {
		t.Errorf("running training %+v (no worker: no progress)", got)
	}
	if !slices.Equal(got.NoWorker, []string{tr.queue}) {
		t.Errorf("a run with no worker on its queue names it: %v, want [%s]", got.NoWorker, tr.queue)
	}
	if _, err := tr.Get(ctx, "no-such-training-"+id, ""); !errors.Is(err, errTrainingNotFound) {
		t.Errorf("unknown ID: %v", err)
	}
	// A run named by its run ID.
	if got, err := tr.Get(ctx, id, started.RunID); err != nil || got.RunID != started.RunID {
		t.Errorf("by run ID: %+v, %v", got, err)
	}

	// A worker whose Ingest keeps failing: the training shows the stage it
	// retries, the attempt and the last error.
	w := worker.New(c, tr.queue, worker.Options{})
	w.RegisterWorkflow(workflows.TrainingPipeline)
	w.RegisterActivityWithOptions(func(context.Context, activities.IngestInput) (activities.IngestResult, error) {
		return activities.IngestResult{}, errors.New("registry: cannot reach PostgreSQL")
	}, activity.RegisterOptions{Name: "Ingest"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for {
		got, err = tr.Get(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Retrying) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the failing Ingest never showed as retrying: %+v", got)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if r := got.Retrying[0]; r.Activity != "Ingest" || r.Attempt < 2 || r.LastError != "registry: cannot reach PostgreSQL" {
		t.Errorf("retrying %+v", got.Retrying)
	}
	if len(got.NoWorker) != 0 {
		t.Errorf("a worker polls the run's queue, yet no_worker says %v", got.NoWorker)
	}

	// Visibility is eventually consistent: wait until the list of the
	// model's trainings shows it.
	for found := false; !found; {
		list, _, err := tr.List(ctx, runFilter{Model: p.ModelName, Status: "running"}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range list {
			if i > 0 && l.StartTime.After(list[i-1].StartTime) {
				t.Fatal("list is not newest first")
			}
			if l.ModelName != p.ModelName {
				t.Fatalf("the list of %s's trainings has one of %s", p.ModelName, l.ModelName)
			}
			found = found || l.WorkflowID == id
		}
		if !found {
			select {
			case <-ctx.Done():
				t.Fatal("the training never appeared in the list")
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	if err := c.TerminateWorkflow(ctx, id, "", "terminated by TestTemporalTrainer"); err != nil {
		t.Fatal(err)
	}
	got, err = tr.Get(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "terminated" || got.CloseTime == nil || got.Error == "" {
		t.Errorf("terminated training %+v", got)
	}
	// The status filter is Temporal's: the run moves from one list to the
	// other, once visibility catches up.
	for {
		terminated, _, err := tr.List(ctx, runFilter{Model: p.ModelName, Status: "terminated"}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		running, _, err := tr.List(ctx, runFilter{Model: p.ModelName, Status: "running"}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(terminated) == 1 && terminated[0].WorkflowID == id && len(running) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("terminated list %+v, running list %+v", terminated, running)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// A completed pipeline run, if the namespace has one, shows its result.
	list, _, err := tr.List(ctx, runFilter{}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Status != "completed" {
			continue
		}
		done, err := tr.Get(ctx, l.WorkflowID, l.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if done.Result == nil || done.Result.Version == 0 || done.CloseTime == nil {
			t.Errorf("completed training %s without a result: %+v", l.WorkflowID, done)
		}
		t.Logf("completed training %s: version %d, weighted F1 %.4f", l.WorkflowID, done.Result.Version, done.Result.Evaluation.WeightedF1)
		return
	}
	t.Log("no completed training in the namespace: the result path was not exercised")
}

// TestTemporalTrainerPages pages through a model's trainings on a real
// Temporal: two pages of two and one, each run once.
func TestTemporalTrainerPages(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	tr := &temporalTrainer{c: c, queue: servingtest.RandomName("apitest-queue-"), namespace: cfg.Temporal.Namespace, uiURL: cfg.Temporal.UIURL}
	ctx := t.Context()
	p := workflows.TrainingParams{ModelName: servingtest.RandomName("apitest-"), Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}}
	for range 3 {
		id := servingtest.RandomName("apitest-page-")
		if _, err := tr.Start(ctx, id, p.WithDefaults()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.TerminateWorkflow(context.Background(), id, "", "test cleanup")
		})
	}
	// Visibility is eventually consistent.
	for {
		all, _, err := tr.List(ctx, runFilter{Model: p.ModelName}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of the 3 trainings listed", len(all))
		case <-time.After(100 * time.Millisecond):
		}
	}

	first, next, err := tr.List(ctx, runFilter{Model: p.ModelName}, 2, nil)
	if err != nil || len(first) != 2 || len(next) == 0 {
		t.Fatalf("first page: %d trainings, next %q, %v", len(first), next, err)
	}
	second, _, err := tr.List(ctx, runFilter{Model: p.ModelName}, 2, next)
	if err != nil || len(second) != 1 {
		t.Fatalf("second page: %d trainings, %v", len(second), err)
	}
	seen := map[string]bool{}
	for _, l := range append(first, second...) {
		seen[l.WorkflowID] = true
	}
	if len(seen) != 3 {
		t.Errorf("pages listed %v, want 3 trainings once each", seen)
	}
}

func TestRootCause(t *testing.T) {
	gate := temporal.NewNonRetryableApplicationError("quality gate: weighted F1 0.71 is under the floor 0.99", "QualityGate", nil)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("workflow: %w", fmt.Errorf("activity: %w", gate)), "quality gate: weighted F1 0.71 is under the floor 0.99"},
		{fmt.Errorf("workflow: %w", errors.New("terminated")), "terminated"},
	} {
		if got := rootCause(tc.err); got != tc.want {
			t.Errorf("rootCause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A batch prediction on the real Temporal: started on a queue no worker
// polls, it runs and says so; a training is not read as one, nor a batch
// prediction as a training. A worker standing in for the batch activity
// then completes it with its result.
func TestTemporalBatch(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	tr := &temporalTrainer{c: c, queue: servingtest.RandomName("apitest-queue-"), namespace: cfg.Temporal.Namespace, uiURL: cfg.Temporal.UIURL}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	in := activities.BatchPredictInput{ModelName: servingtest.RandomName("apitest-"), XKey: "raw/x.csv"}
	b, err := tr.StartBatch(ctx, "", in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), b.WorkflowID, "", "test cleanup") })
	got, err := tr.GetBatch(ctx, b.WorkflowID, "")
	if err != nil || got.Status != "running" || got.ModelName != in.ModelName || !slices.Equal(got.NoWorker, []string{tr.queue}) {
		t.Fatalf("running batch %+v, %v", got, err)
	}
	if _, err := tr.Get(ctx, b.WorkflowID, ""); !errors.Is(err, errTrainingNotFound) {
		t.Errorf("a batch prediction read as a training: %v", err)
	}
	var ae *apiError
	if _, err := tr.StartBatch(ctx, b.WorkflowID, in); !errors.As(err, &ae) || ae.status != 409 {
		t.Errorf("a second start with the same ID: %v, want a 409", err)
	}
	id := servingtest.RandomName("apitest-train-")
	if _, err := tr.Start(ctx, id, workflows.TrainingParams{ModelName: in.ModelName, Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}}.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), id, "", "test cleanup") })
	if _, err := tr.GetBatch(ctx, id, ""); !errors.Is(err, errBatchNotFound) {
		t.Errorf("a training read as a batch prediction: %v", err)
	}
	// Each list holds its own kind of run. Visibility is eventually
	// consistent: wait until the training shows in its list.
	poll(t, ctx, "the training listed", func() bool {
		trainings, _, err := tr.List(ctx, runFilter{Model: in.ModelName}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(trainings) > 1 {
			t.Fatalf("the trainings of %s: %+v, want %s alone", in.ModelName, trainings, id)
		}
		return len(trainings) == 1 && trainings[0].WorkflowID == id
	})
	batches, _, err := tr.ListBatches(ctx, runFilter{Model: in.ModelName, Status: "running"}, 100, nil)
	if err != nil || len(batches) != 1 || batches[0].WorkflowID != b.WorkflowID || batches[0].ModelName != in.ModelName || batches[0].UIURL == "" {
		t.Errorf("the running batch predictions of %s: %+v, %v; want %s alone", in.ModelName, batches, err, b.WorkflowID)
	}

	w := worker.New(c, tr.queue, worker.Options{})
	w.RegisterWorkflow(workflows.BatchPredict)
	w.RegisterActivityWithOptions(func(ctx context.Context, in activities.BatchPredictInput) (activities.BatchPredictResult, error) {
		return activities.BatchPredictResult{PredictionsKey: "predictions/p.csv", Rows: 3, ModelVersion: 2}, nil
	}, activity.RegisterOptions{Name: "BatchPredict"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	poll(t, ctx, "the batch prediction ended", func() bool {
		if got, err = tr.GetBatch(ctx, b.WorkflowID, ""); err != nil {
			t.Fatal(err)
		}
		return got.Status != "running"
	})
	if got.Status != "completed" || got.Result == nil || got.Result.Rows != 3 || got.CloseTime == nil {
		t.Errorf("completed batch %+v", got)
	}
	poll(t, ctx, "the completed batch prediction listed with its version", func() bool {
		batches, _, err := tr.ListBatches(ctx, runFilter{Model: in.ModelName, Status: "completed"}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(batches) == 1 && batches[0].WorkflowID == b.WorkflowID && batches[0].ModelVersion == 2
	})
}

// A comparison on the real Temporal: running while no worker polls its
// queue, listed under its model, not read as a batch prediction, and
// completed with its result by a worker standing in for the activity.
func TestTemporalComparison(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	tr := &temporalTrainer{c: c, queue: servingtest.RandomName("apitest-queue-"), namespace: cfg.Temporal.Namespace, uiURL: cfg.Temporal.UIURL}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	in := activities.CompareInput{ModelName: servingtest.RandomName("apitest-"), Versions: []int{1, 2}, Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}, MaxRejectFraction: 0.1}
	started, err := tr.StartComparison(ctx, "", in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), started.WorkflowID, "", "test cleanup") })
	got, err := tr.GetComparison(ctx, started.WorkflowID, "")
	if err != nil || got.Status != "running" || got.ModelName != in.ModelName || !slices.Equal(got.NoWorker, []string{tr.queue}) {
		t.Fatalf("running comparison %+v, %v", got, err)
	}
	if _, err := tr.GetBatch(ctx, started.WorkflowID, ""); !errors.Is(err, errBatchNotFound) {
		t.Errorf("a comparison read as a batch prediction: %v", err)
	}
	var ae *apiError
	if _, err := tr.StartComparison(ctx, started.WorkflowID, in); !errors.As(err, &ae) || ae.status != 409 {
		t.Errorf("a second start with the same ID: %v, want a 409", err)
	}

	w := worker.New(c, tr.queue, worker.Options{})
	w.RegisterWorkflow(workflows.CompareVersions)
	w.RegisterActivityWithOptions(func(ctx context.Context, in activities.CompareInput) (activities.Comparison, error) {
		return activities.Comparison{Model: in.ModelName, Rows: 3, Versions: []activities.VersionScore{{Version: 1}, {Version: 2}},
			Pairs: []activities.VersionPair{{A: 1, B: 2, McNemarP: 1}}}, nil
	}, activity.RegisterOptions{Name: "CompareVersions"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	poll(t, ctx, "the comparison ended", func() bool {
		if got, err = tr.GetComparison(ctx, started.WorkflowID, ""); err != nil {
			t.Fatal(err)
		}
		return got.Status != "running"
	})
	if got.Status != "completed" || got.Result == nil || got.Result.Rows != 3 || len(got.Result.Pairs) != 1 || got.CloseTime == nil {
		t.Errorf("completed comparison %+v", got)
	}
	// Visibility is eventually consistent.
	poll(t, ctx, "the completed comparison listed", func() bool {
		list, _, err := tr.ListComparisons(ctx, runFilter{Model: in.ModelName, Status: "completed"}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 1 {
			t.Fatalf("comparisons of %s: %+v", in.ModelName, list)
		}
		return len(list) == 1 && list[0].WorkflowID == started.WorkflowID
	})
	if batches, _, err := tr.ListBatches(ctx, runFilter{Model: in.ModelName}, 100, nil); err != nil || len(batches) != 0 {
		t.Errorf("batch predictions of %s: %+v, %v; want none", in.ModelName, batches, err)
	}
}

// poll calls done every 100 ms until it reports true, failing the test,
// saying what it waited for, when ctx ends first.
func poll(t *testing.T, ctx context.Context, what string, done func() bool) {
	t.Helper()
	for !done() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
