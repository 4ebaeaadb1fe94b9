package workflows_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/demodata"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/workflows"
)

// harness is a worker on private task queues against the real services.
type harness struct {
	cfg      config.Config
	store    *artifact.Store
	reg      *registry.Registry
	client   client.Client
	acts     *activities.Activities
	queue    string
	training string
	model    string // a model name no other test uses
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	testenv.Integration(t)
	cfg, err := config.Load()
	require.NoError(t, err)
	log, err := logging.New(io.Discard, "", logging.JSON, "warn")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := artifact.New(cfg.S3)
	require.NoError(t, err)
	require.NoError(t, store.EnsureBucket(ctx))
	reg, err := registry.Open(ctx, cfg.DatabaseURL, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Close() })
	c, err := client.Dial(client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Logger: logging.NewTemporal(log)})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	suffix := randomSuffix()
	h := &harness{cfg: cfg, store: store, reg: reg, client: c,
		acts:  &activities.Activities{Store: store, Registry: reg, Log: log, CodeVersion: "test"},
		queue: "itest-" + suffix, training: "itest-training-" + suffix, model: "itest-" + suffix}
	return h
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startWorkers runs in-process workers on the harness's queues. Each
// override registers on both workers after the real activities, so it can
// stand in for one of them, light or heavy.
func (h *harness) startWorkers(t *testing.T, overrides ...func(worker.Registry)) {
	t.Helper()
	main := worker.New(h.client, h.queue, worker.Options{MaxHeartbeatThrottleInterval: workflows.HeartbeatSendInterval})
	workflows.RegisterMain(main, h.acts)
	for _, o := range overrides {
		o(main)
	}
	heavy := worker.New(h.client, h.training, worker.Options{MaxConcurrentActivityExecutionSize: 1, MaxHeartbeatThrottleInterval: workflows.HeartbeatSendInterval})
	workflows.RegisterTraining(heavy, h.acts)
	for _, o := range overrides {
		o(heavy)
	}
	require.NoError(t, main.Start())
	t.Cleanup(main.Stop)
	require.NoError(t, heavy.Start())
	t.Cleanup(heavy.Stop)
}

func (h *harness) upload(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	ref, err := h.store.Put(context.Background(), artifact.Raw, data, ".csv", "text/csv")
	require.NoError(t, err)
	return ref.Key
}

// uploadDemo puts a generated demo catalogue (rowsPerClass listings per
// product type; seed picks them) in the bucket and names it as a source.
func (h *harness) uploadDemo(t *testing.T, ctx context.Context, rowsPerClass int, seed uint64) activities.Source {
	t.Helper()
	var x, y bytes.Buffer
	require.NoError(t, demodata.Write(&x, &y, rowsPerClass, seed))
	xr, err := h.store.Put(ctx, artifact.Raw, x.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)
	yr, err := h.store.Put(ctx, artifact.Raw, y.Bytes(), ".csv", "text/csv")
	require.NoError(t, err)
	return activities.Source{XKey: xr.Key, YKey: yr.Key}
}

func (h *harness) train(t *testing.T, ctx context.Context, p workflows.TrainingParams) (workflows.TrainingResult, string) {
	t.Helper()
	p.ModelName, p.TrainingQueue = h.model, h.training
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-train-" + randomSuffix(), TaskQueue: h.queue}, workflows.TrainingPipeline, p)
	require.NoError(t, err)
	var res workflows.TrainingResult
	require.NoError(t, run.Get(ctx, &res))
	return res, run.GetID()
}

// logOverhead reports the run's end-to-end time against the sum of its
// activities' own work (started → completed), from the recorded history.
func (h *harness) logOverhead(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	it := h.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first, last time.Time
	started := map[int64]time.Time{}
	var work time.Duration
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		ts := e.GetEventTime().AsTime()
		if first.IsZero() {
			first = ts
		}
		last = ts
		if e.GetActivityTaskStartedEventAttributes() != nil {
			started[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] = ts
		}
		if a := e.GetActivityTaskCompletedEventAttributes(); a != nil {
			work += ts.Sub(started[a.GetScheduledEventId()])
		}
	}
	total := last.Sub(first)
	t.Logf("end-to-end %.3fs, activities' own work %.3fs, orchestration overhead %.3fs", total.Seconds(), work.Seconds(), (total - work).Seconds())
}

func TestPipelineEndToEndOnRakuten(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	src := activities.Source{
		XKey: h.upload(t, testenv.Split(t, "rakuten", "X_train.csv")),
		YKey: h.upload(t, testenv.Split(t, "rakuten", "Y_train.csv")),
	}

	// First model: clears the floor, becomes production.
	first, wfID := h.train(t, ctx, workflows.TrainingParams{Source: src})
	h.logOverhead(t, ctx, wfID)
	require.Equal(t, 1, first.Version)
	require.True(t, first.Promoted, first.Reason)
	require.Equal(t, "production", first.Alias)
	require.Greater(t, first.Evaluation.WeightedF1, 0.6)

	// Its lineage is in PostgreSQL.
	v, err := h.reg.Version(ctx, h.model, 1)
	require.NoError(t, err)
	require.Equal(t, first.DatasetDigest, v.DatasetDigest)
	require.Equal(t, first.ModelKey, v.ArtifactKey)
	require.Equal(t, wfID, v.WorkflowID)
	require.Equal(t, "test", v.CodeVersion)
	require.Equal(t, first.Evaluation.ReportKey, v.ReportKey)
	require.InDelta(t, first.Evaluation.WeightedF1, v.Metrics["weighted_f1"], 1e-12)
	// The probabilities are scored too: calibrated, so the expected
	// calibration error on the holdout is small.
	require.InDelta(t, first.Evaluation.ECE, v.Metrics["ece"], 1e-12)
	require.InDelta(t, first.Evaluation.LogLoss, v.Metrics["log_loss"], 1e-12)
	require.Greater(t, first.Evaluation.LogLoss, 0.0)
	require.Less(t, first.Evaluation.ECE, 0.15)
	var params classifier.Params
	require.NoError(t, json.Unmarshal(v.Params, &params))
	require.Equal(t, classifier.DefaultParams(), params)

	// The model and the report are in MinIO; Get verifies the digests.
	digest, err := artifact.DigestOf(v.ArtifactKey)
	require.NoError(t, err)
	require.Equal(t, v.ArtifactDigest, digest)
	data, err := h.store.Get(ctx, v.ArtifactKey)
	require.NoError(t, err)
	m, err := model.Decode(data)
	require.NoError(t, err)
	require.Len(t, m.Labels, 27)
	for _, l := range m.Labels {
		require.NotEmpty(t, l.EN, "the challenge's prdtypecode %s is named", l.Code)
		require.NotEmpty(t, l.FR, "the challenge's prdtypecode %s is named", l.Code)
	}
	require.Equal(t, first.DatasetDigest, m.Metadata["dataset_digest"])
	rep, err := h.store.Get(ctx, v.ReportKey)
	require.NoError(t, err)
	var report activities.Report
	require.NoError(t, json.Unmarshal(rep, &report))
	require.Equal(t, first.Dataset.HoldoutRows, report.Rows)
	require.Len(t, report.Metrics.Confusion, 27)

	prod, err := h.reg.Alias(ctx, h.model, "production")
	require.NoError(t, err)
	require.Equal(t, 1, prod.Version)

	// A deliberately weaker model becomes challenger; production stays.
	weak := classifier.DefaultParams()
	weak.Solver.C = 0.02
	second, _ := h.train(t, ctx, workflows.TrainingParams{Source: src, Params: &weak})
	require.Equal(t, 2, second.Version)
	require.False(t, second.Promoted, second.Reason)
	require.Equal(t, "challenger", second.Alias)
	require.Equal(t, 1, second.Gate.BaselineVersion)
	require.Equal(t, first.DatasetDigest, second.DatasetDigest, "same data, same snapshot")
	prod, err = h.reg.Alias(ctx, h.model, "production")
	require.NoError(t, err)
	require.Equal(t, 1, prod.Version)
	ch, err := h.reg.Alias(ctx, h.model, "challenger")
	require.NoError(t, err)
	require.Equal(t, 2, ch.Version)

	// BatchPredict writes one prediction per input row; the Temporal UI
	// finds it by the model's name.
	xTest := h.upload(t, testenv.Split(t, "rakuten", "X_test.csv"))
	run, err := workflows.StartBatchPredict(ctx, h.client, h.queue, "", activities.BatchPredictInput{ModelName: h.model, XKey: xTest})
	require.NoError(t, err)
	var bp activities.BatchPredictResult
	require.NoError(t, run.Get(ctx, &bp))
	require.Eventually(t, func() bool {
		l, err := h.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("ModelName = %q AND ModelVersion = 1 AND WorkflowType = 'BatchPredict'", h.model),
		})
		return err == nil && len(l.GetExecutions()) == 1 && l.GetExecutions()[0].GetExecution().GetWorkflowId() == run.GetID()
	}, 30*time.Second, 200*time.Millisecond, "the batch prediction is listed under its model and the version it used")
	require.Equal(t, 732, bp.Rows)
	require.Equal(t, 1, bp.ModelVersion)
	out, err := h.store.Get(ctx, bp.PredictionsKey)
	require.NoError(t, err)
	records, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 733, "header + one line per row")
	for _, r := range records[1:] {
		require.NotEmpty(t, r[1], "every row has a prdtypecode: %v", r)
	}

	// An X file with no rows fails as bad data instead of writing an empty
	// predictions file.
	ref, err := h.store.Put(ctx, artifact.Raw, []byte(",designation,description,productid,imageid\n"), ".csv", "text/csv")
	require.NoError(t, err)
	run, err = h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-predict-empty-" + randomSuffix(), TaskQueue: h.queue},
		workflows.BatchPredict, activities.BatchPredictInput{ModelName: h.model, XKey: ref.Key})
	require.NoError(t, err)
	err = run.Get(ctx, &bp)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.ErrBadData, app.Type())
	require.Contains(t, app.Error(), "no rows")
	require.Contains(t, app.Message(), "no rows", "the batch fails with the activity's reason, not 'activity error'")

	// A generic CSV with the text columns the model reads: its rows are
	// numbered, and the label column is ignored.
	csvTest := h.upload(t, testenv.Split(t, "rakuten", "test.csv"))
	run, err = h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-predict-csv-" + randomSuffix(), TaskQueue: h.queue},
		workflows.BatchPredict, activities.BatchPredictInput{ModelName: h.model, CSVKey: csvTest, TextCols: []string{"text"}})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, &bp))
	require.Equal(t, 732, bp.Rows)
	out, err = h.store.Get(ctx, bp.PredictionsKey)
	require.NoError(t, err)
	records, err = csv.NewReader(bytes.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"id", "label", "category", "probability", "error"}, records[0])
	require.Len(t, records, 733)
	require.Equal(t, "1", records[1][0])
	run, err = h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "itest-predict-csv-" + randomSuffix(), TaskQueue: h.queue},
		workflows.BatchPredict, activities.BatchPredictInput{ModelName: h.model, CSVKey: csvTest})
	require.NoError(t, err)
	require.ErrorAs(t, run.Get(ctx, &bp), &app)
	require.Equal(t, activities.ErrBadParams, app.Type())

	// CompareVersions scores both versions on the labelled test split, on
	// the same rows; the first's figure is the one its model gives here.
	yTest := h.upload(t, testenv.Split(t, "rakuten", "Y_test.csv"))
	in := activities.CompareInput{ModelName: h.model, Versions: []int{1, 2}, Source: activities.Source{XKey: xTest, YKey: yTest}, MaxRejectFraction: 0.1}
	run, err = workflows.StartCompareVersions(ctx, h.client, h.queue, "", in)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(run.GetID(), "compare-"+h.model+"-"), run.GetID())
	var c activities.Comparison
	require.NoError(t, run.Get(ctx, &c))
	require.Equal(t, 732, c.Rows)
	require.Len(t, c.Versions, 2)
	require.Len(t, c.Pairs, 1)
	require.Equal(t, 1, c.Versions[0].Version)
	require.Greater(t, c.Versions[0].WeightedF1, c.Versions[1].WeightedF1, "the weak model scores lower")
	require.Greater(t, c.Pairs[0].OnlyARight, c.Pairs[0].OnlyBRight)
	xf, err := os.Open(testenv.Split(t, "rakuten", "X_test.csv"))
	require.NoError(t, err)
	defer xf.Close()
	yf, err := os.Open(testenv.Split(t, "rakuten", "Y_test.csv"))
	require.NoError(t, err)
	defer yf.Close()
	test, err := dataset.ReadRaw(xf, yf, dataset.Options{MaxRejectFraction: 0.1})
	require.NoError(t, err)
	local, err := classifier.Evaluate(m, test.Examples)
	require.NoError(t, err)
	require.InDelta(t, local.WeightedF1, c.Versions[0].WeightedF1, 1e-12)
	// A version that does not exist fails the run, naming it.
	in.Versions = []int{1, 9}
	run, err = workflows.StartCompareVersions(ctx, h.client, h.queue, "", in)
	require.NoError(t, err)
	require.ErrorAs(t, run.Get(ctx, &c), &app)
	require.Equal(t, activities.ErrNoModel, app.Type())
	require.Contains(t, app.Message(), "has no version 9")
	// A version whose model file is not in the bucket fails it as bad
	// data, naming the version.
	gone := servingtest.Register(t, h.reg, h.store, h.model, "models/"+strings.Repeat("0", 64)+".bin", strings.Repeat("0", 64), nil)
	in.Versions = []int{1, gone.Version}
	run, err = workflows.StartCompareVersions(ctx, h.client, h.queue, "", in)
	require.NoError(t, err)
	require.ErrorAs(t, run.Get(ctx, &c), &app)
	require.Equal(t, activities.ErrBadData, app.Type())
	require.Contains(t, app.Message(), fmt.Sprintf("compare versions: model %s v%d: read model", h.model, gone.Version))
	// A CSV without the label column named fails on the test set, before
	// any model file is read.
	in = activities.CompareInput{ModelName: h.model, Versions: []int{1, gone.Version}, MaxRejectFraction: 0.1,
		Source: activities.Source{CSVKey: csvTest, TextCols: []string{"text"}, LabelCol: "category"}}
	run, err = workflows.StartCompareVersions(ctx, h.client, h.queue, "", in)
	require.NoError(t, err)
	require.ErrorAs(t, run.Get(ctx, &c), &app)
	require.Equal(t, activities.ErrBadData, app.Type())
	require.Contains(t, app.Message(), `missing column(s) "category"`)
	require.NotContains(t, app.Message(), "read model")
}

// runTwice executes an activity twice in a row with the same input, as
// Temporal does when an activity's completion is lost, and returns both
// results as JSON.
func runTwice(ctx workflow.Context, name string, in json.RawMessage) ([2]json.RawMessage, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute})
	var out [2]json.RawMessage
	for i := range out {
		if err := workflow.ExecuteActivity(ctx, name, in).Get(ctx, &out[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// testEnv returns a test workflow environment whose activities are the
// harness's real ones (the main queue's), as one workflow execution with an
// ID no other test uses.
func (h *harness) testEnv(idPrefix string) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(logging.NewTemporal(h.acts.Log))
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(5 * time.Minute)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: idPrefix + randomSuffix()})
	workflows.RegisterMain(env, h.acts)
	return env
}

// twice runs the named activity twice through runTwice in a test workflow
// environment (so the activities see one workflow execution, with an ID no
// other test uses) and decodes both results into first and second.
func (h *harness) twice(t *testing.T, name string, in, first, second any) {
	t.Helper()
	env := h.testEnv("itest-twice-")
	workflows.RegisterTraining(env, h.acts)
	env.RegisterWorkflow(runTwice)
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	env.ExecuteWorkflow(runTwice, name, json.RawMessage(raw))
	require.NoError(t, env.GetWorkflowError())
	var out [2]json.RawMessage
	require.NoError(t, env.GetWorkflowResult(&out))
	require.NoError(t, json.Unmarshal(out[0], first))
	require.NoError(t, json.Unmarshal(out[1], second))
}

// Running an activity again after it succeeded, as Temporal does when a
// completion is lost, writes the same objects and creates no new records.
func TestActivitiesAreIdempotent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	in := activities.IngestInput{
		ModelName: h.model, HoldoutFraction: workflows.DefaultHoldoutFraction, MaxRejectFraction: workflows.DefaultMaxRejectFraction,
		Params: classifier.DefaultParams(),
		Source: activities.Source{
			XKey: h.upload(t, testenv.Split(t, "rakuten", "X_train.csv")),
			YKey: h.upload(t, testenv.Split(t, "rakuten", "Y_train.csv")),
		},
	}
	var ing1, ing2 activities.IngestResult
	h.twice(t, "Ingest", in, &ing1, &ing2)
	require.Equal(t, ing1, ing2, "same snapshot keys and the same registry run")

	p := classifier.DefaultParams()
	var feat1, feat2 activities.FeaturesResult
	h.twice(t, "Features", activities.FeaturesInput{TrainKey: ing1.TrainKey, Params: p}, &feat1, &feat2)
	require.Equal(t, feat1, feat2)
	var tr1, tr2 activities.TrainResult
	h.twice(t, "Train", activities.TrainInput{TrainKey: ing1.TrainKey, Features: feat1, Params: p, DatasetDigest: ing1.DatasetDigest}, &tr1, &tr2)
	require.Equal(t, tr1.Model, tr2.Model, "training is deterministic: the same model bytes and key")

	var ev1, ev2 activities.EvaluateResult
	h.twice(t, "Evaluate", activities.EvaluateInput{RunID: ing1.RunID, ModelKey: tr1.Model.Key, HoldoutKey: ing1.HoldoutKey}, &ev1, &ev2)
	require.Equal(t, ev1, ev2)
	rin := activities.RegisterInput{
		ModelName: h.model, RunID: ing1.RunID, DatasetDigest: ing1.DatasetDigest, HoldoutKey: ing1.HoldoutKey,
		Params: p, Model: tr1.Model, Evaluation: ev1, Gate: activities.Gate{Margin: 0.002, Floor: 0.5},
	}
	var r1, r2 activities.RegisterResult
	h.twice(t, "Register", rin, &r1, &r2)
	require.Equal(t, r1.Version, r2.Version)
	require.True(t, r2.Promoted)

	versions, err := h.reg.Versions(ctx, h.model)
	require.NoError(t, err)
	require.Len(t, versions, 1, "a second Register creates no second version")
	history, err := h.reg.AliasHistory(ctx, h.model)
	require.NoError(t, err)
	require.Len(t, history, 1, "a second Register moves no alias")
	require.Equal(t, r1.Reason, r2.Reason, "a second Register reports the first one's reason")

	// Another run on the same data trains the same file: it adds no
	// version, and a retried Register says the same.
	env := h.testEnv("itest-again-")
	env.RegisterWorkflow(ingestThenRegisterTwice)
	env.ExecuteWorkflow(ingestThenRegisterTwice, in, rin)
	require.NoError(t, env.GetWorkflowError())
	var again [2]activities.RegisterResult
	require.NoError(t, env.GetWorkflowResult(&again))
	// The retry finds the run finished and reports what it recorded (no
	// alias move records the gate's figures in this case).
	require.Equal(t, again[0].Version, again[1].Version)
	require.Equal(t, again[0].Alias, again[1].Alias)
	require.Equal(t, again[0].Promoted, again[1].Promoted)
	require.Contains(t, again[1].Reason, "no version added")
	require.Equal(t, r1.Version, again[0].Version)
	require.Empty(t, again[0].Alias)
	require.Contains(t, again[0].Reason, "no version added")
	versions, err = h.reg.Versions(ctx, h.model)
	require.NoError(t, err)
	require.Len(t, versions, 1)

	// A failure recorded after the run published (a cancel that came as
	// Register finished) leaves the run succeeded, and is not retried.
	var none1, none2 any
	h.twice(t, "FailRun", activities.FailRunInput{RunID: ing1.RunID, Error: "canceled"}, &none1, &none2)
	run, err := h.reg.Run(ctx, ing1.RunID)
	require.NoError(t, err)
	require.Equal(t, registry.RunSucceeded, run.Status)
}

// ingestThenRegisterTwice runs Ingest, then Register twice on its run, as
// Temporal does when Register's completion is lost.
func ingestThenRegisterTwice(ctx workflow.Context, in activities.IngestInput, reg activities.RegisterInput) ([2]activities.RegisterResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute})
	var out [2]activities.RegisterResult
	var ing activities.IngestResult
	if err := workflow.ExecuteActivity(ctx, "Ingest", in).Get(ctx, &ing); err != nil {
		return out, err
	}
	reg.RunID, reg.DatasetDigest, reg.HoldoutKey = ing.RunID, ing.DatasetDigest, ing.HoldoutKey
	for i := range out {
		if err := workflow.ExecuteActivity(ctx, "Register", reg).Get(ctx, &out[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// A history the current code records replays on it without a
// non-determinism error (testdata holds one from older code).
func TestReplayOfALiveRun(t *testing.T) {
	h := newHarness(t)
	h.startWorkers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, id := h.train(t, ctx, workflows.TrainingParams{Source: h.uploadDemo(t, ctx, 10, 5)})
	markers := h.replay(t, ctx, id)
	require.Equal(t, 6, markers, "five version markers and the recorded default parameters")
}

// replay replays the recorded history of workflow id on the current code,
// failing the test on a non-determinism error, and returns how many
// markers (versions, side effects) the history holds.
func (h *harness) replay(t *testing.T, ctx context.Context, id string) (markers int) {
	t.Helper()
	hist := &historypb.History{}
	it := h.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		if e.GetMarkerRecordedEventAttributes() != nil {
			markers++
		}
		hist.Events = append(hist.Events, e)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.TrainingPipeline)
	require.NoError(t, r.ReplayWorkflowHistory(nil, hist), "replay of %s", id)
	return markers
}
