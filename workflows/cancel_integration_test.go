package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/workflows"
)

// standIn registers fn under the name of one of the real activities.
func standIn(name string, fn any) func(worker.Registry) {
	return func(w worker.Registry) {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name, DisableAlreadyRegisteredCheck: true})
	}
}

// A run cancelled just after Register published, before Register
// reported back, waits for Register: the model it published stands and the
// run stays succeeded, instead of the workflow trying to mark it failed
// under a promoted model.
func TestCancelAsRegisterPublishesKeepsWhatItPublished(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h.startWorkers(t, standIn("Register", func(actx context.Context, in activities.RegisterInput) (activities.RegisterResult, error) {
		res, err := h.acts.Register(actx, in)
		if err != nil {
			return res, err
		}
		wf := activity.GetInfo(actx).WorkflowExecution
		if err := h.client.CancelWorkflow(ctx, wf.ID, wf.RunID); err != nil {
			return activities.RegisterResult{}, err
		}
		// Time for the workflow to take the cancel in, and, were it not
		// waiting for this stage, to try to record the run as failed.
		time.Sleep(2 * time.Second)
		return res, nil
	}))
	src := h.uploadDemo(t, ctx, 11, 5)
	p := workflows.TrainingParams{Source: src, ModelName: h.model, TrainingQueue: h.training}
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue}, workflows.TrainingPipeline, p)
	require.NoError(t, err)
	var res workflows.TrainingResult
	require.NoError(t, run.Get(ctx, &res), "Register finished, so the run completes")
	require.True(t, res.Promoted, res.Reason)

	rec, err := h.reg.RunOfWorkflow(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, registry.RunSucceeded, rec.Status, "run record: %+v", rec)
	prod, err := h.reg.Alias(ctx, h.model, registry.AliasProduction)
	require.NoError(t, err)
	require.Equal(t, res.Version, prod.Version)
	h.replay(t, ctx, run.GetID())
}

// An Ingest that recorded the run and then failed never hands the workflow
// the run's ID; the run is marked failed all the same, found by the
// workflow execution.
func TestIngestFailingAfterRecordingMarksTheRunFailed(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h.startWorkers(t, standIn("Ingest", func(actx context.Context, in activities.IngestInput) (activities.IngestResult, error) {
		if _, err := h.acts.Ingest(actx, in); err != nil {
			return activities.IngestResult{}, err
		}
		return activities.IngestResult{}, temporal.NewNonRetryableApplicationError("lost after recording the run", "Lost", nil)
	}))
	src := h.uploadDemo(t, ctx, 11, 6)
	p := workflows.TrainingParams{Source: src, ModelName: h.model, TrainingQueue: h.training}
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue}, workflows.TrainingPipeline, p)
	require.NoError(t, err)
	var app *temporal.ApplicationError
	require.True(t, errors.As(run.Get(ctx, nil), &app), "the run fails with Ingest's error")

	rec, err := h.reg.RunOfWorkflow(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, registry.RunFailed, rec.Status, "run record: %+v", rec)
	require.Contains(t, rec.Error, "lost after recording the run")
	h.replay(t, ctx, run.GetID())
}

// A run cancelled while it trains waits for Train to stop, then is marked
// canceled, not failed, and adds no version.
func TestCancelWhileTrainingMarksTheRunCanceled(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h.startWorkers(t, standIn("Train", func(actx context.Context, in activities.TrainInput) (activities.TrainResult, error) {
		wf := activity.GetInfo(actx).WorkflowExecution
		if err := h.client.CancelWorkflow(ctx, wf.ID, wf.RunID); err != nil {
			return activities.TrainResult{}, err
		}
		for {
			activity.RecordHeartbeat(actx)
			select {
			case <-actx.Done():
				return activities.TrainResult{}, actx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	src := h.uploadDemo(t, ctx, 11, 7)
	p := workflows.TrainingParams{Source: src, ModelName: h.model, TrainingQueue: h.training}
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue}, workflows.TrainingPipeline, p)
	require.NoError(t, err)
	err = run.Get(ctx, nil)
	require.True(t, temporal.IsCanceledError(err), "the run ends canceled: %v", err)

	rec, err := h.reg.RunOfWorkflow(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, registry.RunCanceled, rec.Status, "run record: %+v", rec)
	_, err = h.reg.Versions(ctx, h.model)
	require.ErrorIs(t, err, registry.ErrNotFound, "no version registered")
	h.replay(t, ctx, run.GetID())
}
