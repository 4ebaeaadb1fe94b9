package workflows_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/demodata"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/taxonomy"
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
	require.Equal(t, v2.Version, v3.Version, "the same file adds no version")
	require.Empty(t, v3.Alias, "and moves no alias")
	require.Contains(t, v3.Reason, "no version added (same model file as v2)")
	require.Contains(t, v3.Reason, "identical to v2")
	require.Contains(t, v3.Reason, "cli:ana")
	prod, err := h.reg.Alias(ctx, h.model, "production")
	require.NoError(t, err)
	require.Equal(t, v1.Version, prod.Version)

	// Promoted again by hand: the next identical run is gated as usual.
	_, err = h.reg.SetAlias(ctx, h.model, "production", v3.Version, "shoes fixed upstream", "cli:ana")
	require.NoError(t, err)
	v4, _ := h.train(t, ctx, workflows.TrainingParams{Source: b})
	require.NotContains(t, v4.Reason, "moved production away")
	require.Equal(t, v3.Version, v4.Gate.BaselineVersion)
	versions, err := h.reg.Versions(ctx, h.model)
	require.NoError(t, err)
	require.Len(t, versions, 2, "four runs on two data sets: two versions")
}

// A production version whose model file is gone cannot be served or
// scored: the next run that clears the floor replaces it, instead of every
// run failing until someone repairs the file by hand.
func TestGateReplacesUnloadableProduction(t *testing.T) {
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

	// The gate's other terms still hold: enough holdout rows, and the
	// labels production's report shows.
	three := map[string]bool{"10": true, "2583": true, "1560": true}
	tiny, _ := h.train(t, ctx, workflows.TrainingParams{Source: h.uploadRelabelled(t, ctx, 10, 5, func(c string) (string, bool) { return c, three[c] })})
	require.Equal(t, "challenger", tiny.Alias, tiny.Reason)
	require.Contains(t, tiny.Reason, "cannot be loaded")
	require.Contains(t, tiny.Reason, "proves little")
	narrow, _ := h.train(t, ctx, workflows.TrainingParams{Source: h.uploadRelabelled(t, ctx, 40, 9, func(c string) (string, bool) { return c, three[c] })})
	require.Equal(t, "challenger", narrow.Alias, narrow.Reason)
	require.Contains(t, narrow.Reason, "does not know 24 of production v1's 27 labels")

	weak := classifier.DefaultParams()
	weak.Solver.C = 0.3 // other bytes than production's
	second, run := h.train(t, ctx, workflows.TrainingParams{Source: src, Params: &weak})
	require.True(t, second.Promoted, second.Reason)
	require.Equal(t, first.Version, second.Gate.BaselineVersion)
	require.Contains(t, second.Reason, fmt.Sprintf("production v%d cannot be loaded", first.Version))
	require.Contains(t, second.Reason, first.ModelKey)
	prod, err := h.reg.Alias(ctx, h.model, "production")
	require.NoError(t, err)
	require.Equal(t, second.Version, prod.Version)
	h.replay(t, ctx, run)
}

// uploadRelabelled puts a generated demo catalogue in the bucket as a
// generic CSV, with each label mapped through relabel; rows it answers
// false for are left out.
func (h *harness) uploadRelabelled(t *testing.T, ctx context.Context, rowsPerClass int, seed uint64, relabel func(code string) (string, bool)) activities.Source {
	t.Helper()
	var x, y bytes.Buffer
	require.NoError(t, demodata.Write(&x, &y, rowsPerClass, seed))
	xs, err := csv.NewReader(&x).ReadAll()
	require.NoError(t, err)
	ys, err := csv.NewReader(&y).ReadAll()
	require.NoError(t, err)
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	require.NoError(t, w.Write([]string{"title", "description", "label"}))
	for i := 1; i < len(xs); i++ {
		if label, ok := relabel(ys[i][1]); ok {
			require.NoError(t, w.Write([]string{xs[i][1], xs[i][2], label}))
		}
	}
	w.Flush()
	require.NoError(t, w.Error())
	ref, err := h.store.Put(ctx, artifact.Raw, out.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)
	return activities.Source{CSVKey: ref.Key, TextCols: []string{"title", "description"}, LabelCol: "label"}
}

// A candidate that beats production on its own holdout is still not
// promoted automatically when it knows fewer labels than production (an
// export that lost categories) or does far worse on production's own
// holdout (another data set trained under the model's name).
func TestGateRefusesNarrowerOrForeignModels(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Production learnt from few rows, so a candidate has room to beat it.
	first, _ := h.train(t, ctx, workflows.TrainingParams{Source: h.uploadDemo(t, ctx, 3, 7)})
	require.True(t, first.Promoted, first.Reason)
	anyGain := activities.Gate{Margin: 0, Floor: 0.5}

	three := map[string]bool{"10": true, "2583": true, "1560": true}
	narrow, _ := h.train(t, ctx, workflows.TrainingParams{Gate: anyGain, GateSet: true,
		Source: h.uploadRelabelled(t, ctx, 40, 9, func(c string) (string, bool) { return c, three[c] })})
	require.False(t, narrow.Promoted, narrow.Reason)
	require.Equal(t, "challenger", narrow.Alias)
	require.Contains(t, narrow.Reason, "does not know 24 of production v1's 27 labels")
	// A CSV's codes mean what its owner says, even when they look like
	// prdtypecodes: the model does not name them from the taxonomy.
	data, err := h.store.Get(ctx, narrow.ModelKey)
	require.NoError(t, err)
	m, err := model.Decode(data)
	require.NoError(t, err)
	for _, l := range m.Labels {
		require.Empty(t, l.EN+l.FR, "label %s of a CSV is named", l.Code)
	}

	// Every label moved to the next code: the same labels, other meanings.
	codes := taxonomy.Codes()
	next := map[string]string{}
	for i, c := range codes {
		next[c] = codes[(i+1)%len(codes)]
	}
	foreign, _ := h.train(t, ctx, workflows.TrainingParams{Gate: anyGain, GateSet: true,
		Source: h.uploadRelabelled(t, ctx, 12, 9, func(c string) (string, bool) { return next[c], true })})
	require.Greater(t, foreign.Gate.CandidateF1, foreign.Gate.BaselineF1, "it beats production on its own holdout")
	require.False(t, foreign.Promoted, foreign.Reason)
	require.Contains(t, foreign.Reason, "of production v1's own holdout")

	prod, err := h.reg.Alias(ctx, h.model, "production")
	require.NoError(t, err)
	require.Equal(t, first.Version, prod.Version)
	t.Logf("narrow: %s\nforeign: %s", narrow.Reason, foreign.Reason)
}

// A first model scored on a handful of holdout rows is not put into
// production: the score proves little. It becomes challenger, which a
// person may promote.
func TestGateWantsEnoughHoldoutRows(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	three := map[string]bool{"10": true, "2583": true, "1560": true}
	tiny, _ := h.train(t, ctx, workflows.TrainingParams{
		Source: h.uploadRelabelled(t, ctx, 10, 5, func(c string) (string, bool) { return c, three[c] })})
	require.False(t, tiny.Promoted, tiny.Reason)
	require.Equal(t, "challenger", tiny.Alias)
	require.Less(t, tiny.Dataset.HoldoutRows, activities.MinGateRows)
	require.Contains(t, tiny.Reason, fmt.Sprintf("on %d holdout rows proves little (the gate wants %d)", tiny.Dataset.HoldoutRows, activities.MinGateRows))
	_, err := h.reg.Alias(ctx, h.model, "production")
	require.ErrorIs(t, err, registry.ErrNotFound)
}
