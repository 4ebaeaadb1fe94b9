package workflows_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/demodata"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

func TestScheduleTriggerRunPauseDelete(t *testing.T) {
	h := newHarness(t) // workers start after the second trigger, below
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
	m := schedule.New(h.client, h.cfg.Temporal.Namespace)
	created, err := m.Put(ctx, spec, nil, "test")
	require.NoError(t, err)
	require.True(t, created)
	t.Cleanup(func() { _ = m.Delete(context.Background(), spec.ID) })
	// Putting it again updates it in place.
	spec.Note = "updated"
	created, err = m.Put(ctx, spec, nil, "test")
	require.NoError(t, err)
	require.False(t, created)

	desc, err := m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.Equal(t, "every 24h", desc.Spec)
	require.Equal(t, "updated", desc.Note)
	require.NotEmpty(t, desc.NextRuns)

	// The first run waits for a worker, so it is still going when the
	// second trigger comes; under skip that one would be dropped, and must
	// run after it instead.
	waitsFor, err := m.Trigger(ctx, spec.ID)
	require.NoError(t, err)
	require.Empty(t, waitsFor, "no run was going")
	var first string
	require.Eventually(t, func() bool {
		d, err := m.Describe(ctx, spec.ID)
		if err != nil || len(d.RecentRuns) != 1 {
			return false
		}
		first = d.RecentRuns[0].WorkflowID
		return true
	}, time.Minute, 100*time.Millisecond, "the first triggered run starts")
	// Temporal names a schedule's runs by the second they are due in, so
	// two triggers within one second would share a workflow ID.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	waitsFor, err = m.Trigger(ctx, spec.ID)
	require.NoError(t, err)
	require.Equal(t, first, waitsFor)
	// A third, while the second waits, would be dropped: it is refused.
	require.Eventually(t, func() bool {
		d, err := h.client.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{Namespace: h.cfg.Temporal.Namespace, ScheduleId: spec.ID})
		return err == nil && d.GetInfo().GetBufferSize() == 1
	}, time.Minute, 100*time.Millisecond, "the second trigger waits in the buffer")
	_, err = m.Trigger(ctx, spec.ID)
	require.ErrorIs(t, err, schedule.ErrAlreadyWaiting)
	require.ErrorContains(t, err, "("+first+")")
	h.startWorkers(t)
	runs := h.waitForRuns(t, ctx, m, spec.ID, 2)
	require.Equal(t, 1, runs[0].Version)
	require.True(t, runs[0].Promoted)
	// The same data trains the same file again: no version is added.
	require.Equal(t, 1, runs[1].Version)
	require.False(t, runs[1].Promoted)
	require.Contains(t, runs[1].Reason, "no version added (same model file as v1)")

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

	// Putting the spec again with paused left out keeps the pause and its
	// note; paused false resumes it, noting who and why.
	spec.Note = ""
	created, err = m.Put(ctx, spec, nil, "test")
	require.NoError(t, err)
	require.False(t, created)
	desc, err = m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.True(t, desc.Paused, "put without paused resumed a paused schedule")
	require.Equal(t, "maintenance", desc.Note)
	resume := false
	spec.Note = "maintenance done"
	_, err = m.Put(ctx, spec, &resume, "test")
	require.NoError(t, err)
	desc, err = m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.False(t, desc.Paused, "put with paused false left the schedule paused")
	require.Equal(t, "unpaused by test: maintenance done", desc.Note)
	spec.Note = ""
	// Paused again, so that no run falls due on its own while the test
	// runs (at midnight UTC); backfills run on a paused schedule too.
	require.NoError(t, m.Pause(ctx, spec.ID, "test: backfills only"))
	// Update never creates.
	other := spec
	other.ID += "-none"
	require.ErrorIs(t, m.Update(ctx, other, nil, "test"), schedule.ErrNotFound)
	_, err = m.Describe(ctx, other.ID)
	require.ErrorIs(t, err, schedule.ErrNotFound)

	// A backfill over three days takes all three daily runs, one after
	// another. Its ends are included, so they are put between midnights.
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
	taken, err := m.Backfill(ctx, spec.ID, end.Add(-72*time.Hour), end)
	require.NoError(t, err)
	require.Len(t, taken, 3, "backfill reports %v", taken)
	runs = h.waitForRuns(t, ctx, m, spec.ID, 5)
	for _, r := range runs[2:] {
		require.Equal(t, 1, r.Version, "the same data: no new version")
	}
	d, err := m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	var prevClose time.Time
	for _, r := range d.RecentRuns[2:] {
		info, err := h.client.DescribeWorkflowExecution(ctx, r.WorkflowID, r.RunID)
		require.NoError(t, err)
		e := info.GetWorkflowExecutionInfo()
		require.False(t, e.GetStartTime().AsTime().Before(prevClose), "backfilled run %s started before the one before it closed", r.WorkflowID)
		prevClose = e.GetCloseTime().AsTime()
	}

	// With jitter, Temporal compares a slot's jittered time with the end:
	// a backfill of one slot, from its time to its time, still takes it.
	spec.Jitter = 10 * time.Minute
	_, err = m.Put(ctx, spec, nil, "test")
	require.NoError(t, err)
	slot := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	taken, err = m.Backfill(ctx, spec.ID, slot, slot)
	require.NoError(t, err)
	require.Len(t, taken, 1, "backfill of one slot reports %v", taken)
	require.WithinDuration(t, slot, taken[0], spec.Jitter, "the jittered time of the slot")
	h.waitForRuns(t, ctx, m, spec.ID, 6)
	// A window with no slot in it takes nothing, and says so; nor does one
	// with more runs than a backfill may take.
	_, err = m.Backfill(ctx, spec.ID, slot.Add(time.Hour), slot.Add(2*time.Hour))
	require.ErrorIs(t, err, schedule.ErrNothingDue)
	_, err = m.Backfill(ctx, spec.ID, slot.Add(-time.Duration(schedule.MaxBackfillRuns+1)*24*time.Hour), slot)
	require.ErrorIs(t, err, schedule.ErrTooMany)
	d, err = m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.Len(t, d.RecentRuns, 6, "a refused backfill took runs")
	require.Equal(t, "every 24h", d.Spec)
	require.Equal(t, "24h", d.Every)
	require.Equal(t, "10m", d.Jitter)
	require.Equal(t, "skip", d.Overlap)
	require.NotNil(t, d.PauseOnFailure)
	require.True(t, *d.PauseOnFailure)

	// A cron expression Temporal cannot parse is the caller's mistake, on
	// update as on create, and changes nothing.
	bad := spec
	bad.Cron, bad.Every = "0 3 * * funday", 0
	_, err = m.Put(ctx, bad, nil, "test")
	require.ErrorIs(t, err, schedule.ErrInvalidSpec)
	bad.ID = spec.ID + "-bad"
	_, err = m.Put(ctx, bad, nil, "test")
	require.ErrorIs(t, err, schedule.ErrInvalidSpec)
	_, err = m.Describe(ctx, bad.ID)
	require.ErrorIs(t, err, schedule.ErrNotFound)
	desc, err = m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.Equal(t, "every 24h", desc.Spec)

	require.NoError(t, m.Delete(ctx, spec.ID))
	_, err = m.Describe(ctx, spec.ID)
	require.True(t, errors.Is(err, schedule.ErrNotFound), "describe after delete: %v", err)
}

// waitForRuns waits until the schedule has started n runs and returns their
// results, oldest first.
func (h *harness) waitForRuns(t *testing.T, ctx context.Context, m *schedule.Manager, id string, n int) []workflows.TrainingResult {
	t.Helper()
	var runs []schedule.Run
	require.Eventually(t, func() bool {
		d, err := m.Describe(ctx, id)
		if err != nil {
			return false
		}
		runs = d.RecentRuns
		return len(runs) >= n
	}, 2*time.Minute, 200*time.Millisecond, "the schedule's recent runs reach %d", n)
	require.Len(t, runs, n, "more runs than asked for: %+v", runs)
	out := make([]workflows.TrainingResult, n)
	for i, r := range runs {
		require.NoError(t, h.client.GetWorkflow(ctx, r.WorkflowID, r.RunID).Get(ctx, &out[i]), "run %d (%s)", i, r.WorkflowID)
	}
	return out
}

// A scheduled run that fails pauses the schedule with a note that says why
// (the stage's reason), not Temporal's bare "activity error".
func TestScheduleFailureNoteSaysWhy(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	missing := activities.Source{XKey: "raw/" + strings.Repeat("0", 64) + ".csv", YKey: "raw/" + strings.Repeat("1", 64) + ".csv"}
	spec := workflows.ScheduleSpec{
		ID: "itest-" + randomSuffix(), Every: 24 * time.Hour, PauseOnFailure: true, TaskQueue: h.queue,
		Training: workflows.TrainingParams{ModelName: h.model, TrainingQueue: h.training, Source: missing},
	}
	m := schedule.New(h.client, h.cfg.Temporal.Namespace)
	_, err := m.Put(ctx, spec, nil, "test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Delete(context.Background(), spec.ID) })
	_, err = m.Trigger(ctx, spec.ID)
	require.NoError(t, err)
	var d schedule.Summary
	require.Eventually(t, func() bool {
		d, err = m.Describe(ctx, spec.ID)
		return err == nil && d.Paused
	}, 2*time.Minute, 200*time.Millisecond, "the failed run pauses the schedule")
	t.Logf("pause note: %s", d.Note)
	require.Contains(t, d.Note, "not found")
	require.NotContains(t, d.Note, "activity error")
}

// A conditional update writes only over the settings it was merged with:
// a change made since is ErrChanged, and stays.
func TestScheduleUpdateIfUnchanged(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := workflows.ScheduleSpec{
		ID: "itest-" + randomSuffix(), Cron: "0 3 * * *", PauseOnFailure: true, TaskQueue: h.queue,
		Training: workflows.TrainingParams{ModelName: h.model, Source: activities.Source{Feed: "itest-feed"}},
	}
	m := schedule.New(h.client, h.cfg.Temporal.Namespace)
	paused := true
	_, err := m.Put(ctx, spec, &paused, "test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Delete(context.Background(), spec.ID) })
	seen, err := m.Describe(ctx, spec.ID)
	require.NoError(t, err)

	// Someone else moves it to another model meanwhile.
	other := spec
	other.Training.ModelName = h.model + "-other"
	require.NoError(t, m.Update(ctx, other, nil, "someone"))
	mine := spec
	mine.Cron = "0 4 * * *"
	require.ErrorIs(t, m.UpdateIfUnchanged(ctx, mine, nil, "test", seen), schedule.ErrChanged)
	now, err := m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.Equal(t, h.model+"-other", now.Training.ModelName)
	require.Equal(t, "0 3 * * *", now.Cron)

	// Merged with what it is now, the update goes through.
	mine.Training.ModelName = now.Training.ModelName
	require.NoError(t, m.UpdateIfUnchanged(ctx, mine, nil, "test", now))
	now, err = m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.Equal(t, "0 4 * * *", now.Cron)
	require.True(t, now.Paused)
}
