package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

// publishDemo uploads generated data and publishes it as the feed's next
// version, returning the X key.
func (h *harness) publishDemo(t *testing.T, ctx context.Context, feed string, rowsPerClass int, seed uint64) string {
	t.Helper()
	src := h.uploadDemo(t, ctx, rowsPerClass, seed)
	raw, err := json.Marshal(src)
	require.NoError(t, err)
	_, added, err := h.reg.PublishFeed(ctx, feed, raw, "itest", "")
	require.NoError(t, err)
	require.True(t, added)
	return src.XKey
}

// A schedule that names a feed trains each run on the feed's latest
// version, so publishing new data is all it takes to retrain on it.
func TestScheduleRetrainsOnFeedsLatestVersion(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	feed := "itest-feed-" + randomSuffix()
	first := h.publishDemo(t, ctx, feed, 10, 7)

	spec := workflows.ScheduleSpec{
		ID: "itest-" + randomSuffix(), Every: 24 * time.Hour, PauseOnFailure: true, TaskQueue: h.queue,
		Training: workflows.TrainingParams{ModelName: h.model, TrainingQueue: h.training, Source: activities.Source{Feed: feed}},
	}
	m := schedule.New(h.client, h.cfg.Temporal.Namespace)
	// Paused, so that only the triggers below run it, even at midnight UTC.
	paused := true
	_, err := m.Put(ctx, spec, &paused, "test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Delete(context.Background(), spec.ID) })
	desc, err := m.Describe(ctx, spec.ID)
	require.NoError(t, err)
	require.NotNil(t, desc.Training, "describe shows what the schedule trains on")
	require.Equal(t, feed, desc.Training.Source.Feed)

	_, err = m.Trigger(ctx, spec.ID)
	require.NoError(t, err)
	runs := h.waitForRuns(t, ctx, m, spec.ID, 1)
	require.Equal(t, feed, runs[0].Dataset.Feed)
	require.Equal(t, 1, runs[0].Dataset.FeedVersion)
	require.Equal(t, first, runs[0].Dataset.Source.XKey)

	second := h.publishDemo(t, ctx, feed, 12, 8)
	require.NotEqual(t, first, second)
	// Temporal names a schedule's runs by the second they are due in.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	_, err = m.Trigger(ctx, spec.ID)
	require.NoError(t, err)
	runs = h.waitForRuns(t, ctx, m, spec.ID, 2)
	require.Equal(t, 2, runs[1].Dataset.FeedVersion)
	require.Equal(t, second, runs[1].Dataset.Source.XKey)
	require.Equal(t, 27*12, runs[1].Dataset.Rows+runs[1].Dataset.Rejected)
	require.NotEqual(t, runs[0].DatasetDigest, runs[1].DatasetDigest)
	require.Equal(t, 2, runs[1].Version)

	ds, err := h.reg.Dataset(ctx, runs[1].DatasetDigest)
	require.NoError(t, err)
	require.Contains(t, ds.SourceKeys, second, "the dataset's lineage names the objects the feed pointed at")
	v, err := h.reg.Version(ctx, h.model, runs[1].Version)
	require.NoError(t, err)
	require.Equal(t, feed, v.Feed, "the version's lineage names the feed it was trained on")
	require.Equal(t, 2, v.FeedVersion)
}

// A training on a feed that was never published fails at once, with a
// non-retryable BadData error that names the feed.
func TestTrainingOnUnpublishedFeedFails(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	feed := "itest-nofeed-" + randomSuffix()
	require.Contains(t, h.trainOnFeedFails(t, ctx, feed), "feed "+feed+" was never published")
}

// trainOnFeedFails trains on the feed, wants the run to fail with BadData
// and returns its message.
func (h *harness) trainOnFeedFails(t *testing.T, ctx context.Context, feed string) string {
	t.Helper()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue},
		workflows.TrainingPipeline, workflows.TrainingParams{ModelName: h.model, TrainingQueue: h.training, Source: activities.Source{Feed: feed}})
	require.NoError(t, err)
	err = run.Get(ctx, nil)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "error %v, want an application error", err)
	require.Equal(t, activities.ErrBadData, app.Type())
	return app.Error()
}

// A feed version whose object was removed from the bucket fails its
// trainings with BadData naming the feed and version, not just the key.
func TestTrainingOnFeedWithRemovedObjectNamesTheFeed(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	feed := "itest-gone-" + randomSuffix()
	// Published, then gone: a key of the right form that the bucket lacks.
	gone := "raw/" + strings.Repeat("e", 64) + ".csv"
	raw, err := json.Marshal(activities.Source{CSVKey: gone, TextCols: []string{"text"}, LabelCol: "label"})
	require.NoError(t, err)
	_, _, err = h.reg.PublishFeed(ctx, feed, raw, "itest", "")
	require.NoError(t, err)
	msg := h.trainOnFeedFails(t, ctx, feed)
	require.Contains(t, msg, "read CSV of feed "+feed+" version 1")
	require.Contains(t, msg, gone)
}
