package workflows_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/demodata"
	"github.com/prodcat/prodcat/workflows"
)

// The gate compares the candidate with production only on holdout rows
// production was not trained on: here a larger holdout fraction moves rows
// of production's training part into the new holdout, where production
// would otherwise be scored on what it has learnt.
func TestGateLeavesOutRowsProductionTrainedOn(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var x, y bytes.Buffer
	require.NoError(t, demodata.Write(&x, &y, 12, 3))
	xr, err := h.store.Put(ctx, artifact.Raw, x.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)
	yr, err := h.store.Put(ctx, artifact.Raw, y.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)
	src := activities.Source{XKey: xr.Key, YKey: yr.Key}

	first, _ := h.train(t, ctx, workflows.TrainingParams{Source: src, HoldoutFraction: 0.2})
	require.True(t, first.Promoted, first.Reason)
	second, _ := h.train(t, ctx, workflows.TrainingParams{Source: src, HoldoutFraction: 0.5})
	require.NotEqual(t, first.DatasetDigest, second.DatasetDigest)
	require.Equal(t, first.Version, second.Gate.BaselineVersion)

	snapshot := func(key string) []dataset.Example {
		data, err := h.store.Get(ctx, key)
		require.NoError(t, err)
		ex, err := dataset.ReadSnapshot(bytes.NewReader(data))
		require.NoError(t, err)
		return ex
	}
	seen := map[string]bool{}
	for _, e := range snapshot(first.Dataset.TrainKey) {
		seen[e.Title+"\x00"+e.Body] = true
	}
	unseen := 0
	for _, e := range snapshot(second.Dataset.HoldoutKey) {
		if !seen[e.Title+"\x00"+e.Body] {
			unseen++
		}
	}
	require.Less(t, unseen, second.Dataset.HoldoutRows, "the test needs holdout rows production trained on")
	require.Positive(t, unseen)
	require.Equal(t, unseen, second.Gate.ComparedRows)
	require.Contains(t, second.Reason, "production was not trained on")
	require.Positive(t, second.Gate.CandidateF1)
	t.Logf("gate: %s", second.Reason)
}
