package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/semaphore"

	"github.com/prodcat/prodcat/workflows"
)

// A run whose Ingest waits for a data slot says so in its progress, from
// the stage's heartbeat, and goes on once a slot is free.
func TestProgressShowsTheWaitForADataSlot(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h.acts.DataSlots = semaphore.NewWeighted(1)
	require.True(t, h.acts.DataSlots.TryAcquire(1)) // another activity holds the only slot
	h.startWorkers(t)
	src := h.uploadDemo(t, ctx, 11, 7)
	p := workflows.TrainingParams{Source: src, ModelName: h.model, TrainingQueue: h.training}
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue}, workflows.TrainingPipeline, p)
	require.NoError(t, err)

	// The heartbeat that says so reaches Temporal up to
	// HeartbeatSendInterval after the wait starts.
	var got workflows.Progress
	for !got.WaitingForDataSlot {
		select {
		case <-ctx.Done():
			t.Fatalf("the waiting Ingest never showed in the progress: %+v", got)
		case <-time.After(200 * time.Millisecond):
		}
		qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
		got, err = workflows.QueryProgress(qctx, h.client, run.GetID(), run.GetRunID(), nil)
		qcancel()
		require.NoError(t, err)
	}
	require.Equal(t, "ingest", got.Stage)

	h.acts.DataSlots.Release(1)
	var res workflows.TrainingResult
	require.NoError(t, run.Get(ctx, &res))
	require.NotZero(t, res.Version)
}
