package workflows_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
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
	src := h.uploadDemo(t, ctx, 12, 3)

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

// A model a person rolled back is not promoted again automatically when a
// later run trains the same bytes (the nightly run on unchanged data);
// once a person promotes that model again, the gate decides as usual.
func TestGateKeepsARolledBackModelOut(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, b := h.uploadDemo(t, ctx, 10, 1), h.uploadDemo(t, ctx, 14, 2)

	v1, _ := h.train(t, ctx, workflows.TrainingParams{Source: a})
	require.True(t, v1.Promoted, v1.Reason)
	v2, _ := h.train(t, ctx, workflows.TrainingParams{Source: b})
	if !v2.Promoted {
		_, err := h.reg.SetAlias(ctx, h.model, "production", v2.Version, "try it", "cli:ana")
		require.NoError(t, err)
	}
	_, err := h.reg.Rollback(ctx, h.model, "production", "regression on shoes", "cli:ana")
	require.NoError(t, err)

	v3, _ := h.train(t, ctx, workflows.TrainingParams{Source: b})
	require.Equal(t, v2.ModelKey, v3.ModelKey, "same data, parameters and code give the same bytes")
	require.False(t, v3.Promoted, v3.Reason)
	require.Equal(t, "challenger", v3.Alias)
	require.Contains(t, v3.Reason, "identical to v2")
	require.Contains(t, v3.Reason, "cli:ana")
	prod, err := h.reg.Alias(ctx, h.model, "production")
	require.NoError(t, err)
	require.Equal(t, v1.Version, prod.Version)

	// Promoted again by hand: the next identical run is gated as usual.
	_, err = h.reg.SetAlias(ctx, h.model, "production", v3.Version, "shoes fixed upstream", "cli:ana")
	require.NoError(t, err)
	v4, _ := h.train(t, ctx, workflows.TrainingParams{Source: b})
	require.NotContains(t, v4.Reason, "identical")
	require.Equal(t, v3.Version, v4.Gate.BaselineVersion)
}

// A gate that cannot decide (production's model file is gone) fails the
// run before the candidate's version is created: no version is left
// without an alias and without a successful run.
func TestFailedGateLeavesNoVersion(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src := h.uploadDemo(t, ctx, 11, 99)
	first, _ := h.train(t, ctx, workflows.TrainingParams{Source: src})
	require.True(t, first.Promoted, first.Reason)

	mc, err := minio.New(h.cfg.S3.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(h.cfg.S3.AccessKey, h.cfg.S3.SecretKey, ""), Secure: h.cfg.S3.UseTLS, Region: h.cfg.S3.Region,
	})
	require.NoError(t, err)
	require.NoError(t, mc.RemoveObject(ctx, h.cfg.S3.Bucket, first.ModelKey, minio.RemoveObjectOptions{}))

	weak := classifier.DefaultParams()
	weak.Solver.C = 0.3 // other bytes than production's
	p := workflows.TrainingParams{Source: src, Params: &weak, ModelName: h.model, TrainingQueue: h.training}
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue}, workflows.TrainingPipeline, p)
	require.NoError(t, err)
	err = run.Get(ctx, nil)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.ErrBadData, app.Type())
	require.Contains(t, err.Error(), "load production model v1")
	versions, err := h.reg.Versions(ctx, h.model)
	require.NoError(t, err)
	require.Len(t, versions, 1, "the failed run registered no version")
}
