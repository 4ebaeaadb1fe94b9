package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"go.temporal.io/api/serviceerror"
	"golang.org/x/crypto/bcrypt"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
	evalmetrics "github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/internal/serving"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/workflows"
)

// Handler tests run the real server (routing, auth, metrics, encoding)
// over fakes of its dependencies.

const (
	testModel     = "prdtypecode"
	testFeed      = "catalogue"
	reportKey     = "reports/r1.json"
	datasetHash   = "d1g35t"
	xKey, yKey    = "raw/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.csv", "raw/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.csv"
	adminUser     = "ada"
	adminPass     = "ada-secret"
	predictUser   = "pat"
	predictPass   = "pat-secret"
	testMaxBody   = 1 << 20
	testMaxUpload = 4 << 10
	errDownText   = "connection refused"
	pausedByText  = "paused by " + adminUser + " through the API"
)

// fakeModels serves whatever model a test sets.
type fakeModels struct {
	mu      sync.Mutex
	m       *serving.Model
	behind  int
	loading bool
}

func (f *fakeModels) Loading() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loading
}

func (f *fakeModels) Behind() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.behind
}

func (f *fakeModels) Current() *serving.Model {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m
}

func (f *fakeModels) set(m *serving.Model) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = m
}

// fakeRegistry is an in-memory registry of one model with two versions,
// production at 1.
type fakeRegistry struct {
	mu       sync.Mutex
	versions map[int]registry.Version
	aliases  map[string]int
	history  []registry.AliasMove
	// published are the feed versions PublishFeed added.
	published []registry.FeedVersion
	// down makes every call fail; block, when set, holds Models until it
	// is closed; panics makes Models panic.
	down    error
	block   chan struct{}
	entered chan struct{}
	panics  bool
	// afterTarget, when set, runs after LastMove has read the history,
	// as another client's move might.
	afterTarget func()
}

// testRunID is the run ID the fake trainer gives every training.
const testRunID = "00000000-0000-4000-8000-000000000001"

func newFakeRegistry() *fakeRegistry {
	f := &fakeRegistry{versions: map[int]registry.Version{}, aliases: map[string]int{}}
	for v := 1; v <= 2; v++ {
		f.versions[v] = registry.Version{
			Model: testModel, Version: v, WorkflowID: fmt.Sprintf("train-%d", v), WorkflowRunID: "run",
			DatasetDigest: datasetHash, Params: json.RawMessage(`{"solver":{"c":0.5}}`), CodeVersion: "abc123",
			ArtifactKey: fmt.Sprintf("models/%d.bin", v), ArtifactDigest: "digest", ReportKey: reportKey,
			Metrics:   map[string]float64{"weighted_f1": 0.7 + 0.01*float64(v), "macro_f1": 0.6, "accuracy": 0.72},
			Signature: json.RawMessage(`{}`), CreatedAt: time.Date(2026, 11, 22, 1, 0, v, 0, time.UTC), Aliases: []string{},
		}
	}
	f.aliases[registry.AliasProduction] = 1
	f.history = []registry.AliasMove{{ID: 1, Model: testModel, Alias: registry.AliasProduction, To: 1, Reason: "first model", Actor: "workflow train-1", Moved: true}}
	return f
}

func (f *fakeRegistry) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *fakeRegistry) Models(ctx context.Context) ([]registry.Model, error) {
	f.mu.Lock()
	block, entered, panics, down := f.block, f.entered, f.panics, f.down
	f.mu.Unlock()
	if entered != nil {
		close(entered)
	}
	if block != nil {
		<-block
	}
	if panics {
		panic("fake registry: boom")
	}
	if down != nil {
		return nil, down
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return []registry.Model{{Name: testModel, LatestVersion: len(f.versions), Aliases: f.aliasCopy()}}, nil
}

func (f *fakeRegistry) aliasCopy() map[string]int {
	out := map[string]int{}
	for k, v := range f.aliases {
		out[k] = v
	}
	return out
}

func (f *fakeRegistry) check(model string) error {
	if f.down != nil {
		return f.down
	}
	if model != testModel {
		return fmt.Errorf("registry: model %s: %w", model, registry.ErrNotFound)
	}
	return nil
}

func (f *fakeRegistry) withAliases(v registry.Version) registry.Version {
	v.Aliases = []string{}
	for a, n := range f.aliases {
		if n == v.Version {
			v.Aliases = append(v.Aliases, a)
		}
	}
	return v
}

func (f *fakeRegistry) Versions(_ context.Context, model string) ([]registry.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return nil, err
	}
	var out []registry.Version
	for v := len(f.versions); v >= 1; v-- {
		out = append(out, f.withAliases(f.versions[v]))
	}
	return out, nil
}

func (f *fakeRegistry) Version(_ context.Context, model string, v int) (registry.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return registry.Version{}, err
	}
	ver, ok := f.versions[v]
	if !ok {
		return registry.Version{}, fmt.Errorf("registry: version %d of %s: %w", v, model, registry.ErrNotFound)
	}
	return f.withAliases(ver), nil
}

func (f *fakeRegistry) Dataset(_ context.Context, digest string) (registry.Dataset, error) {
	if digest != datasetHash {
		return registry.Dataset{}, registry.ErrNotFound
	}
	return registry.Dataset{Digest: digest, SourceKeys: []string{xKey, yKey}, Rows: 100, Classes: 3}, nil
}

// Feed, FeedHistory and Feeds know one feed, testFeed, at version 2.
func (f *fakeRegistry) Feed(ctx context.Context, feed string) (registry.FeedVersion, error) {
	vs, err := f.FeedHistory(ctx, feed)
	if err != nil {
		return registry.FeedVersion{}, err
	}
	return vs[0], nil
}

func (f *fakeRegistry) FeedHistory(_ context.Context, feed string) ([]registry.FeedVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.down != nil:
		return nil, f.down
	case feed != testFeed:
		return nil, fmt.Errorf("registry: feed history of %s: %w", feed, registry.ErrNotFound)
	}
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	return []registry.FeedVersion{
		{Feed: feed, Version: 2, Source: json.RawMessage(`{"x_key":"` + xKey + `","y_key":"` + yKey + `"}`), Actor: "cli:ana", Note: "nightly export", CreatedAt: at.Add(24 * time.Hour)},
		{Feed: feed, Version: 1, Source: json.RawMessage(`{"csv_key":"` + xKey + `","text_cols":["title"],"label_col":"category"}`), Actor: "cli:ana", CreatedAt: at},
	}, nil
}

// PublishFeed adds the next version to a feed (the test feed's is 3) unless
// its latest published version names the same source, as the registry
// does, and records what it was given.
func (f *fakeRegistry) PublishFeed(_ context.Context, feed string, source json.RawMessage, actor, note string) (registry.FeedVersion, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return registry.FeedVersion{}, false, f.down
	}
	if err := registry.CheckFeedName(feed); err != nil {
		return registry.FeedVersion{}, false, err
	}
	v := registry.FeedVersion{Feed: feed, Version: 1, Source: source, Actor: actor, Note: note}
	if feed == testFeed {
		v.Version = 3
	}
	for _, p := range slices.Backward(f.published) {
		if p.Feed != feed {
			continue
		}
		if string(p.Source) == string(source) {
			return p, false, nil
		}
		v.Version = p.Version + 1
		break
	}
	f.published = append(f.published, v)
	return v, true, nil
}

func (f *fakeRegistry) Feeds(ctx context.Context) ([]registry.FeedVersion, error) {
	v, err := f.Feed(ctx, testFeed)
	if err != nil {
		return nil, err
	}
	return []registry.FeedVersion{v}, nil
}

func (f *fakeRegistry) Aliases(_ context.Context, model string) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return nil, err
	}
	return f.aliasCopy(), nil
}

func (f *fakeRegistry) AliasHistory(_ context.Context, model string) ([]registry.AliasMove, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return nil, err
	}
	out := make([]registry.AliasMove, len(f.history))
	for i, mv := range f.history {
		out[len(out)-1-i] = mv
	}
	return out, nil
}

// moves returns the alias's moves, newest first.
func (f *fakeRegistry) moves(alias string) []registry.AliasMove {
	var moves []registry.AliasMove
	for _, mv := range slices.Backward(f.history) {
		if mv.Alias == alias {
			moves = append(moves, mv)
		}
	}
	return moves
}

func (f *fakeRegistry) RollbackTarget(_ context.Context, model, alias string) (undo registry.AliasMove, latest int64, err error) {
	f.mu.Lock()
	err = f.down
	if moves := f.moves(alias); err == nil && len(moves) > 0 {
		latest = moves[0].ID
		if undo, err = registry.UndoTarget(moves); err != nil {
			undo, err = registry.AliasMove{To: moves[0].To}, nil
		}
	}
	f.mu.Unlock()
	if f.afterTarget != nil {
		f.afterTarget()
	}
	return undo, latest, err
}

func (f *fakeRegistry) RollbackOf(ctx context.Context, model, alias string, latest int64, reason, actor string) (registry.AliasMove, error) {
	f.mu.Lock()
	var last int64
	if moves := f.moves(alias); len(moves) > 0 {
		last = moves[0].ID
	}
	f.mu.Unlock()
	if last != latest {
		return registry.AliasMove{}, fmt.Errorf("registry: roll back alias %s of %s: the alias moved meanwhile: its last move is %d, not %d: %w", alias, model, last, latest, registry.ErrConflict)
	}
	return f.Rollback(ctx, model, alias, reason, actor)
}

func (f *fakeRegistry) SetAlias(_ context.Context, model, alias string, version int, reason, actor string) (registry.AliasMove, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return registry.AliasMove{}, err
	}
	if _, ok := f.versions[version]; !ok {
		return registry.AliasMove{}, fmt.Errorf("registry: set alias %s of %s to version %d: version %w", alias, model, version, registry.ErrNotFound)
	}
	return f.move(alias, version, reason, actor), nil
}

func (f *fakeRegistry) RemoveAlias(_ context.Context, model, alias string, expected int, reason, actor string) (registry.AliasMove, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return registry.AliasMove{}, err
	}
	if alias == registry.AliasProduction {
		return registry.AliasMove{}, fmt.Errorf("registry: remove alias: production cannot be removed: %w", registry.ErrConflict)
	}
	from, ok := f.aliases[alias]
	if !ok && expected >= 0 {
		return registry.AliasMove{Model: model, Alias: alias}, nil // a retry
	}
	if !ok {
		return registry.AliasMove{}, fmt.Errorf("registry: remove alias %s: alias is not set: %w", alias, registry.ErrNotFound)
	}
	if expected >= 0 && from != expected {
		return registry.AliasMove{}, fmt.Errorf("registry: remove alias %s: alias points at version %d, not the expected %d: %w", alias, from, expected, registry.ErrConflict)
	}
	delete(f.aliases, alias)
	mv := registry.AliasMove{ID: int64(len(f.history) + 1), Model: testModel, Alias: alias, From: from, Reason: reason, Actor: actor, Moved: true}
	f.history = append(f.history, mv)
	return mv, nil
}

func (f *fakeRegistry) CompareAndSetAlias(ctx context.Context, model, alias string, expected, version int, reason, actor string) (registry.AliasMove, error) {
	if err := f.expect(alias, expected, version); err != nil {
		return registry.AliasMove{}, err
	}
	return f.SetAlias(ctx, model, alias, version, reason, actor)
}

func (f *fakeRegistry) RollbackFrom(ctx context.Context, model, alias string, expected int, reason, actor string) (registry.AliasMove, error) {
	if err := f.expect(alias, expected, -1); err != nil {
		return registry.AliasMove{}, err
	}
	return f.Rollback(ctx, model, alias, reason, actor)
}

// expect is the registry's compare-and-set condition: the alias points at
// expected or already at version.
func (f *fakeRegistry) expect(alias string, expected, version int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.aliases[alias]; now != expected && now != version {
		return fmt.Errorf("registry: alias %s points at version %d, not the expected %d: %w", alias, now, expected, registry.ErrConflict)
	}
	return nil
}

func (f *fakeRegistry) Rollback(_ context.Context, model, alias, reason, actor string) (registry.AliasMove, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(model); err != nil {
		return registry.AliasMove{}, err
	}
	if moves := f.moves(alias); len(moves) > 0 {
		undo, err := registry.UndoTarget(moves)
		if err != nil {
			return registry.AliasMove{}, fmt.Errorf("registry: roll back alias %s of %s: %w", alias, model, err)
		}
		mv := f.move(alias, undo.From, reason, actor)
		if mv.Moved {
			mv.RollbackOf = undo.ID
			f.history[len(f.history)-1].RollbackOf = undo.ID
		}
		return mv, nil
	}
	return registry.AliasMove{}, fmt.Errorf("registry: roll back alias %s of %s: alias has no history: %w", alias, model, registry.ErrNotFound)
}

func (f *fakeRegistry) move(alias string, version int, reason, actor string) registry.AliasMove {
	mv := registry.AliasMove{ID: int64(len(f.history) + 1), Model: testModel, Alias: alias, From: f.aliases[alias], To: version,
		Reason: reason, Actor: actor, Moved: f.aliases[alias] != version}
	if mv.Moved {
		f.aliases[alias] = version
		f.history = append(f.history, mv)
	}
	return mv
}

// fakeStore holds a report and the training inputs.
type fakeStore struct {
	mu    sync.Mutex
	files map[string][]byte
	down  error
}

func newFakeStore(t testing.TB) *fakeStore {
	rep, err := evalmetrics.Evaluate([]string{"2583", "2705", "50"}, []int{0, 0, 1, 2, 2}, []int{0, 1, 1, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(activities.Report{ModelKey: "models/1.bin", HoldoutKey: "datasets/h", Rows: 5, Metrics: rep})
	if err != nil {
		t.Fatal(err)
	}
	// xKey serves as an X file and as a generic CSV with title, label and
	// category columns.
	return &fakeStore{files: map[string][]byte{
		reportKey:      data,
		"models/1.bin": []byte("model 1"),
		"models/2.bin": []byte("model 2"),
		xKey:           []byte(",designation,description,productid,imageid,title,label,category\n0,Chaise,,1,2,Chaise,meuble,meuble\n"),
		yKey:           []byte(",prdtypecode\n0,1560\n"),
	}}
}

func (f *fakeStore) GetMax(_ context.Context, key string, max int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return nil, f.down
	}
	data, ok := f.files[key]
	switch {
	case !ok:
		return nil, fmt.Errorf("get %s: %w", key, artifact.ErrNotFound)
	case int64(len(data)) > max:
		return nil, fmt.Errorf("get %s: %w", key, artifact.ErrTooLarge)
	}
	return data, nil
}

// Verify takes the content "corrupt" for a file whose bytes do not match
// its key.
func (f *fakeStore) Verify(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down
	}
	data, ok := f.files[key]
	switch {
	case !ok:
		return fmt.Errorf("get %s: %w", key, artifact.ErrNotFound)
	case string(data) == "corrupt":
		return fmt.Errorf("get %s: %w: content hashes to 0000", key, artifact.ErrCorrupt)
	}
	return nil
}

func (f *fakeStore) Exists(_ context.Context, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return false, f.down
	}
	_, ok := f.files[key]
	return ok, nil
}

func (f *fakeStore) Head(_ context.Context, key string, n int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return nil, f.down
	}
	b, ok := f.files[key]
	if !ok {
		return nil, artifact.ErrNotFound
	}
	return b[:min(int64(len(b)), n)], nil
}

func (f *fakeStore) PutFile(_ context.Context, kind, path, ext, _ string) (artifact.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return artifact.Ref{}, f.down
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return artifact.Ref{}, err
	}
	key, digest := artifact.Key(kind, data, ext)
	f.files[key] = data
	return artifact.Ref{Key: key, Digest: digest, Size: int64(len(data))}, nil
}

// fakeTrainer records the trainings it starts.
type fakeTrainer struct {
	mu       sync.Mutex
	started  []workflows.TrainingParams
	runs     map[string]training
	canceled []string
	down     error
	// batches are the batch predictions started, by workflow ID; each is
	// running until a test sets it otherwise.
	batches map[string]batchRun
	batchIn []activities.BatchPredictInput
	// comparisons are as batches.
	comparisons map[string]comparisonRun
	compareIn   []activities.CompareInput
}

func (f *fakeTrainer) StartBatch(_ context.Context, id string, in activities.BatchPredictInput) (batchRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return batchRun{}, f.down
	}
	if f.batches == nil {
		f.batches = map[string]batchRun{}
	}
	if id == "" {
		id = fmt.Sprintf("predict-%s-%d", in.ModelName, len(f.batchIn))
	}
	if _, dup := f.batches[id]; dup {
		return batchRun{}, errorf(http.StatusConflict, codeConflict, "a workflow with ID %q already exists", id)
	}
	f.batchIn = append(f.batchIn, in)
	b := batchRun{stageRun: stageRun{WorkflowID: id, RunID: testRunID, Status: "running", UIURL: "http://ui/" + id, ModelName: in.ModelName}}
	f.batches[id] = b
	return b, nil
}

func (f *fakeTrainer) StartComparison(_ context.Context, id string, in activities.CompareInput) (comparisonRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return comparisonRun{}, f.down
	}
	if f.comparisons == nil {
		f.comparisons = map[string]comparisonRun{}
	}
	if id == "" {
		id = fmt.Sprintf("compare-%s-%d", in.ModelName, len(f.compareIn))
	}
	if _, dup := f.comparisons[id]; dup {
		return comparisonRun{}, errorf(http.StatusConflict, codeConflict, "a workflow with ID %q already exists", id)
	}
	f.compareIn = append(f.compareIn, in)
	c := comparisonRun{stageRun: stageRun{WorkflowID: id, RunID: testRunID, Status: "running", UIURL: "http://ui/" + id, ModelName: in.ModelName}}
	f.comparisons[id] = c
	return c, nil
}

func (f *fakeTrainer) GetComparison(_ context.Context, id, runID string) (comparisonRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return comparisonRun{}, f.down
	}
	c, ok := f.comparisons[id]
	if !ok || (runID != "" && runID != c.RunID) {
		return comparisonRun{}, fmt.Errorf("%w: %s", errComparisonNotFound, id)
	}
	return c, nil
}

// ListComparisons pages through the comparisons as List does.
func (f *fakeTrainer) ListComparisons(_ context.Context, filter runFilter, limit int, page []byte) ([]comparisonRun, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return nil, nil, f.down
	}
	var all []comparisonRun
	for _, c := range f.comparisons {
		if filter.selects(c.ModelName, c.Status) {
			all = append(all, c)
		}
	}
	slices.SortFunc(all, func(a, b comparisonRun) int { return strings.Compare(a.WorkflowID, b.WorkflowID) })
	return fakePage(all, limit, page)
}

func (f *fakeTrainer) GetBatch(_ context.Context, id, runID string) (batchRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return batchRun{}, f.down
	}
	b, ok := f.batches[id]
	if !ok || (runID != "" && runID != b.RunID) {
		return batchRun{}, fmt.Errorf("%w: %s", errBatchNotFound, id)
	}
	return b, nil
}

func (f *fakeTrainer) Start(_ context.Context, id string, p workflows.TrainingParams) (training, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return training{}, f.down
	}
	if id == "" {
		id = "train-" + p.ModelName + "-now"
	}
	if _, dup := f.runs[id]; dup {
		return training{}, errorf(http.StatusConflict, codeConflict, "a workflow with ID %q already exists", id)
	}
	f.started = append(f.started, p)
	t := training{WorkflowID: id, RunID: testRunID, Status: "running", UIURL: "http://ui/" + id, ModelName: p.ModelName}
	f.runs[id] = t
	return t, nil
}

func (f *fakeTrainer) Get(_ context.Context, id, runID string) (training, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return training{}, f.down
	}
	t, ok := f.runs[id]
	if !ok || (runID != "" && runID != t.RunID) {
		return training{}, fmt.Errorf("%w: %s", errTrainingNotFound, id)
	}
	return t, nil
}

// Cancel ends a running run as canceled, as the pipeline does once its
// stage under way stops.
func (f *fakeTrainer) Cancel(_ context.Context, id, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return f.down
	}
	t, ok := f.runs[id]
	if !ok || t.RunID != runID {
		return fmt.Errorf("%w: %s", errTrainingNotFound, id)
	}
	t.Status = "canceled"
	f.runs[id] = t
	f.canceled = append(f.canceled, id)
	return nil
}

// List pages through the runs in workflow ID order; a page token is the
// offset of the page's first run.
func (f *fakeTrainer) List(_ context.Context, filter runFilter, limit int, page []byte) ([]training, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return nil, nil, f.down
	}
	var all []training
	for _, t := range f.runs {
		if filter.selects(t.ModelName, t.Status) {
			all = append(all, t)
		}
	}
	slices.SortFunc(all, func(a, b training) int { return strings.Compare(a.WorkflowID, b.WorkflowID) })
	return fakePage(all, limit, page)
}

// ListBatches pages through the batch predictions as List does.
func (f *fakeTrainer) ListBatches(_ context.Context, filter runFilter, limit int, page []byte) ([]batchRun, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return nil, nil, f.down
	}
	var all []batchRun
	for _, b := range f.batches {
		if filter.selects(b.ModelName, b.Status) {
			all = append(all, b)
		}
	}
	slices.SortFunc(all, func(a, b batchRun) int { return strings.Compare(a.WorkflowID, b.WorkflowID) })
	return fakePage(all, limit, page)
}

func (f runFilter) selects(model, status string) bool {
	return (f.Model == "" || model == f.Model) && (f.Status == "" || status == f.Status)
}

// fakePage returns the page of all that starts at the offset page holds.
func fakePage[T any](all []T, limit int, page []byte) ([]T, []byte, error) {
	from := 0
	if string(page) == "hang" {
		return nil, nil, context.DeadlineExceeded // as Temporal does with a token it cannot parse
	}
	if page != nil {
		n, err := strconv.Atoi(string(page))
		if err != nil || n < 0 || n > len(all) {
			return nil, nil, serviceerror.NewInvalidArgument("invalid page token")
		}
		from = n
	}
	to := min(from+limit, len(all))
	var next []byte
	if to < len(all) {
		next = []byte(strconv.Itoa(to))
	}
	return all[from:to], next, nil
}

// fakeScheduler has one schedule, "nightly".
type fakeScheduler struct {
	mu      sync.Mutex
	paused  bool
	note    string
	trigger int
	down    error
	// put is the last spec saved, and putPaused its paused argument.
	put       *workflows.ScheduleSpec
	putPaused *bool
	putBy     string
	backfills [][2]time.Time
	deleted   []string
}

func (f *fakeScheduler) Describe(_ context.Context, id string) (schedule.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.find(id); err != nil {
		return schedule.Summary{}, err
	}
	return schedule.Summary{ID: id, Paused: f.paused, Note: f.note, Spec: "cron 0 3 * * *", NextRuns: []time.Time{},
		RecentRuns: []schedule.Run{}, Training: &workflows.TrainingParams{ModelName: "rakuten"}}, nil
}

// Put creates every schedule but nightly.
func (f *fakeScheduler) Put(_ context.Context, spec workflows.ScheduleSpec, paused *bool, by string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return false, f.down
	}
	f.put, f.putPaused, f.putBy = &spec, paused, by
	return spec.ID != "nightly", nil
}

// Backfill takes a run at each midnight from start to end.
func (f *fakeScheduler) Backfill(_ context.Context, id string, start, end time.Time) ([]time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.find(id); err != nil {
		return nil, err
	}
	var times []time.Time
	for t := start.UTC().Truncate(24 * time.Hour); !t.After(end); t = t.Add(24 * time.Hour) {
		if !t.Before(start) {
			times = append(times, t)
		}
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("backfill schedule %s: %w", id, schedule.ErrNothingDue)
	}
	f.backfills = append(f.backfills, [2]time.Time{start, end})
	return times, nil
}

func (f *fakeScheduler) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.find(id); err != nil {
		return err
	}
	f.deleted = append(f.deleted, id)
	return nil
}

func (f *fakeScheduler) find(id string) error {
	if f.down != nil {
		return f.down
	}
	if id != "nightly" {
		return fmt.Errorf("describe schedule %s: %w: %v", id, schedule.ErrNotFound, &serviceerror.NotFound{Message: "schedule not found"})
	}
	return nil
}

func (f *fakeScheduler) List(context.Context) ([]schedule.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return nil, f.down
	}
	return []schedule.Summary{{ID: "nightly", Paused: f.paused, Note: f.note, Spec: "cron 0 3 * * *"}}, nil
}

func (f *fakeScheduler) Pause(_ context.Context, id, note string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.find(id); err != nil {
		return err
	}
	f.paused, f.note = true, note
	return nil
}

func (f *fakeScheduler) Unpause(_ context.Context, id, note string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.find(id); err != nil {
		return err
	}
	f.paused, f.note = false, note
	return nil
}

// Trigger queues every trigger after the first behind it, as buffer_one
// does while the first runs, and refuses the third.
func (f *fakeScheduler) Trigger(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.find(id); err != nil {
		return "", err
	}
	switch f.trigger {
	case 0:
	case 1:
		f.trigger++
		return "retrain-" + id + "-1", nil
	default:
		return "", fmt.Errorf("trigger schedule %s: %w", id, schedule.ErrAlreadyWaiting)
	}
	f.trigger++
	return "", nil
}

// harness is a server over fakes, with a served model.
type harness struct {
	t       testing.TB
	srv     *server
	h       http.Handler
	models  *fakeModels
	reg     *fakeRegistry
	store   *fakeStore
	trainer *fakeTrainer
	sched   *fakeScheduler
	logs    *test.Hook
	model   *serving.Model
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	hash := func(pw string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	authn, err := auth.New([]auth.User{
		{Name: adminUser, Role: auth.RoleAdmin, Hash: hash(adminPass)},
		{Name: predictUser, Role: auth.RolePredict, Hash: hash(predictPass)},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, models: &fakeModels{}, reg: newFakeRegistry(), store: newFakeStore(t),
		trainer: &fakeTrainer{runs: map[string]training{}}, sched: &fakeScheduler{}, logs: hook,
	}
	data := servingtest.Model(t, "a")
	m, err := serving.Load(servingtest.Version(testModel, 1, "models/1.bin", data), data)
	if err != nil {
		t.Fatal(err)
	}
	h.model = m
	h.models.set(m)
	instruments := newMetrics()
	instruments.watchModel(testModel, h.models)
	h.srv, err = newServer(deps{
		logger: log, auth: authn, models: h.models, registry: h.reg, store: h.store, trainer: h.trainer,
		schedules: h.sched, metrics: instruments, modelName: testModel,
		taskQueue: "prodcat", trainingQueue: "prodcat-training", maxBodyBytes: testMaxBody, maxUploadBytes: testMaxUpload, temporalUI: "http://temporal-ui/namespaces/default/workflows",
	})
	if err != nil {
		t.Fatal(err)
	}
	h.h = h.srv.handler()
	return h
}

// user selects the credentials of a request.
type user int

const (
	anonymous user = iota
	asPredict
	asAdmin
)

func (h *harness) do(method, path string, who user, body string) *httptest.ResponseRecorder {
	switch who {
	case asPredict:
		return h.doAuth(method, path, predictUser, predictPass, body)
	case asAdmin:
		return h.doAuth(method, path, adminUser, adminPass, body)
	}
	return h.doAuth(method, path, "", "", body)
}

// doAuth sends a request with the given Basic credentials, none when user
// is empty.
func (h *harness) doAuth(method, path, user, password, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if user != "" {
		r.SetBasicAuth(user, password)
	}
	if method == http.MethodPost || method == http.MethodPut {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

// decodeBody decodes an answer's JSON body into v.
func decodeBody(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, w.Body)
	}
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
}

// wantError checks an error answer: its status, its code and the shape
// {"error": {"code", "message"}} with nothing else.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) string {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	decodeBody(t, w, &body)
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("error %+v, want code %q and a message", body.Error, code)
	}
	return body.Error.Message
}
