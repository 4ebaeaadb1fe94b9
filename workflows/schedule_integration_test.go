package workflows_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/demodata"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

func TestScheduleTriggerRunPauseDelete(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var x, y bytes.Buffer
	require.NoError(t, demodata.Write(&x, &y, 10, 7))
	xr, err := h.store.Put(ctx, artifact.Raw, x.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)
	yr, err := h.store.Put(ctx, artifact.Raw, y.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)

	spec := workflows.ScheduleSpec{
		ID: "itest-" + randomSuffix(), Every: 24 * time.Hour, PauseOnFailure: true, TaskQueue: h.queue,
		Training: workflows.TrainingParams{ModelName: h.model, TrainingQueue: h.training, Source: activities.Source{XKey: xr.Key, YKey: yr.Key}},
	}
	m := schedule.New(h.client)
	created, err := m.Apply(ctx, spec)
	require.NoError(t, err)
	require.True(t, created)
	t.Cleanup(func() { _ = m.Delete(context.Background(), spec.ID) })
	// Applying the same spec again updates in place.
	spec.Note = "updated"
	created, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	require.False(t, created)

	desc, err := m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.Equal(t, "every 24h0m0s", desc.Spec)
	require.Equal(t, "updated", desc.Note)
	require.NotEmpty(t, desc.NextRuns)

	require.NoError(t, m.Trigger(ctx, spec.ID))
	var run schedule.Run
	require.Eventually(t, func() bool {
		d, err := m.Describe(ctx, spec.ID)
		if err != nil || len(d.RecentRuns) == 0 {
			return false
		}
		run = d.RecentRuns[0]
		return true
	}, time.Minute, 200*time.Millisecond, "the triggered run shows in the schedule's recent runs")
	var res workflows.TrainingResult
	require.NoError(t, h.client.GetWorkflow(ctx, run.WorkflowID, run.RunID).Get(ctx, &res))
	require.Equal(t, 1, res.Version)
	require.True(t, res.Promoted)

	// Listing goes through visibility, which is eventually consistent.
	require.Eventually(t, func() bool {
		list, err := m.List(ctx)
		if err != nil {
			return false
		}
		for _, s := range list {
			if s.ID == spec.ID {
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "List includes the schedule")

	require.NoError(t, m.Pause(ctx, spec.ID, "maintenance"))
	desc, err = m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.True(t, desc.Paused)
	require.Equal(t, "maintenance", desc.Note)

	require.NoError(t, m.Delete(ctx, spec.ID))
	_, err = m.Describe(ctx, spec.ID)
	require.True(t, errors.Is(err, schedule.ErrNotFound), "describe after delete: %v", err)
}
