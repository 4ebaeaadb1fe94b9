package registry

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prodcat/prodcat/internal/testenv"
)

// Integration tests against a real PostgreSQL at DATABASE_URL. Each test
// works in a schema of its own, created for it and dropped after it, so the
// tests are independent and can share a database with other users.

// testTimeout keeps a broken test from hanging; it is not a performance bound.
const testTimeout = 2 * time.Minute

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func baseURL(t *testing.T) string {
	t.Helper()
	testenv.Integration(t)
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		t.Fatal("DATABASE_URL is not set")
	}
	return u
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// withParam returns dsn with the connection parameter k set to v.
func withParam(t *testing.T, dsn, k, v string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + k + "=" + v
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", baseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// freshSchema creates an empty schema for t, dropped when t ends, and
// returns a connection string whose search_path is that schema.
func freshSchema(t *testing.T) string {
	t.Helper()
	db := adminDB(t)
	name := randomName("prodcat_test_")
	if _, err := db.ExecContext(testCtx(t), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withParam(t, baseURL(t), "search_path", name)
}

func open(t *testing.T, dsn string) *Registry {
	t.Helper()
	r, err := Open(testCtx(t), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func newRegistry(t *testing.T) *Registry {
	t.Helper()
	return open(t, freshSchema(t))
}

func dataset(digest string) Dataset {
	return Dataset{
		Digest: digest, SourceKeys: []string{"raw/x", "raw/y"}, TrainKey: "ds/" + digest + "/train", HoldoutKey: "ds/" + digest + "/holdout",
		Rows: 100, Classes: 3, Rejected: 2, RejectReasons: map[string]int{"empty text": 2},
		HoldoutFraction: 0.2, HoldoutSalt: "s", TrainRows: 80, HoldoutRows: 20,
	}
}

func recordDataset(t *testing.T, r *Registry, digest string) {
	t.Helper()
	if err := r.RecordDataset(testCtx(t), dataset(digest)); err != nil {
		t.Fatal(err)
	}
}

func newVersion(model, wf, run string) NewVersion {
	return NewVersion{
		Model: model, WorkflowID: wf, WorkflowRunID: run, DatasetDigest: "ds1",
		Params: json.RawMessage(`{"c": 1.5, "ngrams": [1, 2]}`), CodeVersion: "abc123",
		ArtifactKey: "models/" + wf, ArtifactDigest: "sha-" + wf, ReportKey: "reports/" + wf,
		Metrics:   map[string]float64{"weighted_f1": 0.81, "accuracy": 0.8},
		Signature: json.RawMessage(`{"inputs": [{"name": "designation", "type": "string"}], "outputs": [{"name": "prdtypecode", "type": "string"}]}`),
	}
}

func count(t *testing.T, dsn, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(testCtx(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestMigrationsConcurrentAndRepeated(t *testing.T) {
	dsn := freshSchema(t)
	ctx := testCtx(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := Open(ctx, dsn, nil)
			if err == nil {
				err = r.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	r := open(t, dsn) // once more, after all of them
	if err := r.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(t, dsn, `SELECT count(*) FROM schema_migrations`); got != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(ms))
	}
	tables := count(t, dsn, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()
		AND table_name IN ('datasets', 'runs', 'metrics', 'registered_models', 'model_versions', 'aliases', 'alias_history')`)
	if tables != 7 {
		t.Errorf("found %d of the 7 registry tables", tables)
	}
}

// A role that may not create tables opens a schema another has migrated;
// one with a migration pending is refused, saying what to do.
func TestMigratedSchemaNeedsNoDDLRights(t *testing.T) {
	dsn := freshSchema(t)
	open(t, dsn).Close() // migrates, with the right to create tables
	ctx := testCtx(t)
	db := adminDB(t)
	var super bool
	if err := db.QueryRowContext(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if super {
		t.Skip("the test role is a superuser, whom REVOKE CREATE does not stop: the test needs the stack's own role (prodcat)")
	}
	schema := mustQueryParam(t, dsn, "search_path")
	if _, err := db.ExecContext(ctx, "REVOKE CREATE ON SCHEMA "+schema+" FROM CURRENT_USER"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "GRANT CREATE ON SCHEMA "+schema+" TO CURRENT_USER")
	})
	r, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("open of a migrated schema without CREATE: %v", err)
	}
	if err := r.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := db.ExecContext(ctx, "DELETE FROM "+schema+".schema_migrations WHERE version = (SELECT max(version) FROM "+schema+".schema_migrations)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dsn, nil); err == nil || !strings.Contains(err.Error(), "run this version once with a role that may create and alter tables") {
		t.Fatalf("open with a migration pending and no CREATE: %v", err)
	}
}

// mustQueryParam returns the query parameter name of the URL dsn.
func mustQueryParam(t *testing.T, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(name)
}

func TestRecordDatasetIdempotent(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	d := dataset("ds1")
	for range 2 {
		if err := r.RecordDataset(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	changed := d
	changed.Rows = 999
	if err := r.RecordDataset(ctx, changed); err != nil {
		t.Fatal(err)
	}
	got, err := r.Dataset(ctx, "ds1")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.IsZero() {
		t.Error("no created_at")
	}
	got.CreatedAt = time.Time{}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("Dataset = %+v\nwant %+v (the first recording)", got, d)
	}
	if _, err := r.Dataset(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown dataset: err = %v, want ErrNotFound", err)
	}
}

func TestRunLifecycle(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	recordDataset(t, r, "ds1")

	first, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == 0 || first.Status != RunRunning || first.StartedAt.IsZero() || first.FinishedAt != nil {
		t.Fatalf("started run = %+v", first)
	}
	// The retry, now knowing the dataset and parameters, fills them in.
	again, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r1", DatasetDigest: "ds1",
		Params: json.RawMessage(`{"c":1}`), CodeVersion: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.DatasetDigest != "ds1" || string(again.Params) != `{"c": 1}` || again.CodeVersion != "abc" {
		t.Errorf("second StartRun = %+v, want run %d with the blanks filled in", again, first.ID)
	}
	// ... but never overwrites.
	third, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r1", Params: json.RawMessage(`{"c":2}`), CodeVersion: "def"})
	if err != nil {
		t.Fatal(err)
	}
	if third.ID != first.ID || string(third.Params) != `{"c": 1}` || third.CodeVersion != "abc" {
		t.Errorf("third StartRun = %+v, want the recorded values kept", third)
	}
	if _, err := r.StartRun(ctx, Run{Model: "other", WorkflowID: "wf", WorkflowRunID: "r1"}); !errors.Is(err, ErrConflict) {
		t.Errorf("same workflow, other model: err = %v, want ErrConflict", err)
	}
	if _, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r2", DatasetDigest: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown dataset: err = %v, want ErrNotFound", err)
	}

	for range 2 {
		if err := r.RecordMetrics(ctx, first.ID, map[string]float64{"weighted_f1": 0.5, "accuracy": 0.6}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RecordMetrics(ctx, first.ID, map[string]float64{"weighted_f1": 0.7}); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordMetrics(ctx, 1<<40, map[string]float64{"x": 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("metrics of unknown run: err = %v, want ErrNotFound", err)
	}
	if n := count(t, schemaURL(t, r), `SELECT count(*) FROM metrics`); n != 2 {
		t.Errorf("%d metric rows, want 2", n)
	}

	for range 2 {
		if err := r.FinishRun(ctx, first.ID, RunSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.FinishRun(ctx, first.ID, RunFailed, "boom"); !errors.Is(err, ErrRunFinished) || !errors.Is(err, ErrConflict) {
		t.Errorf("finishing a succeeded run as failed: err = %v, want ErrRunFinished, an ErrConflict", err)
	}
	if got, err := r.RunOfWorkflow(ctx, "wf", "r1"); err != nil || got.ID != first.ID || got.Status != RunSucceeded {
		t.Errorf("RunOfWorkflow(wf, r1) = %+v, %v; want run %d, succeeded", got, err, first.ID)
	}
	if _, err := r.RunOfWorkflow(ctx, "wf", "r9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunOfWorkflow of an execution without a run: err = %v, want ErrNotFound", err)
	}
	if err := r.FinishRun(ctx, 1<<40, RunFailed, "boom"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: err = %v, want ErrNotFound", err)
	}

	failed, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf2", WorkflowRunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.FinishRun(ctx, failed.ID, RunFailed, "bad data\x00: \xff"); err != nil {
		t.Fatal(err)
	}

	runs, err := r.Runs(ctx, "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != failed.ID || runs[1].ID != first.ID {
		t.Fatalf("Runs = %+v, want the failed run then the first", runs)
	}
	if runs[0].Status != RunFailed || runs[0].Error != "bad data: \uFFFD" || runs[0].FinishedAt == nil {
		t.Errorf("failed run = %+v", runs[0])
	}
	want := map[string]float64{"weighted_f1": 0.7, "accuracy": 0.6}
	if runs[1].Status != RunSucceeded || !reflect.DeepEqual(runs[1].Metrics, want) {
		t.Errorf("first run = %+v, want succeeded with metrics %v", runs[1], want)
	}
	one, err := r.Run(ctx, first.ID)
	if err != nil || !reflect.DeepEqual(one, runs[1]) {
		t.Errorf("Run = %+v, %v; want %+v", one, err, runs[1])
	}
	if limited, err := r.Runs(ctx, "m", 1); err != nil || len(limited) != 1 {
		t.Errorf("Runs limit 1 = %d runs, %v", len(limited), err)
	}
	if none, err := r.Runs(ctx, "unknown", 10); err != nil || len(none) != 0 {
		t.Errorf("Runs of unknown model = %v, %v; want none", none, err)
	}
	if _, err := r.Run(ctx, 1<<40); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: err = %v, want ErrNotFound", err)
	}

	canceled, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf3", WorkflowRunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.FinishRun(ctx, canceled.ID, RunCanceled, "canceled by admin"); err != nil {
		t.Fatal(err)
	}
	if err := r.FinishRun(ctx, canceled.ID, RunFailed, "boom"); !errors.Is(err, ErrRunFinished) {
		t.Errorf("failing a canceled run: err = %v, want ErrRunFinished", err)
	}
	if got, err := r.Run(ctx, canceled.ID); err != nil || got.Status != RunCanceled || got.Error != "canceled by admin" || got.FinishedAt == nil {
		t.Errorf("canceled run = %+v, %v", got, err)
	}
}

// schemaURL returns a connection string for the schema r works in.
func schemaURL(t *testing.T, r *Registry) string {
	t.Helper()
	var schema string
	if err := r.db.QueryRowContext(testCtx(t), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return withParam(t, baseURL(t), "search_path", schema)
}

func TestCreateVersionIdempotent(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	recordDataset(t, r, "ds1")
	run, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf-a", WorkflowRunID: "r", DatasetDigest: "ds1"})
	if err != nil {
		t.Fatal(err)
	}
	nv := newVersion("m", "wf-a", "r")
	nv.RunID = run.ID
	v1, err := r.CreateVersion(ctx, nv)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v1.RunID != run.ID || v1.DatasetDigest != "ds1" || v1.ArtifactDigest != "sha-wf-a" ||
		v1.CodeVersion != "abc123" || v1.ReportKey != "reports/wf-a" || v1.CreatedAt.IsZero() {
		t.Errorf("first version = %+v", v1)
	}
	if f1, ok := v1.WeightedF1(); !ok || f1 != 0.81 {
		t.Errorf("WeightedF1 = %v, %v", f1, ok)
	}
	var sig struct {
		Inputs []struct{ Name string } `json:"inputs"`
	}
	if err := json.Unmarshal(v1.Signature, &sig); err != nil || len(sig.Inputs) != 1 || sig.Inputs[0].Name != "designation" {
		t.Errorf("signature = %s, %v", v1.Signature, err)
	}

	// The retried register step gets the same version back.
	retry, err := r.CreateVersion(ctx, nv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(retry, v1) {
		t.Errorf("retried CreateVersion = %+v\nwant %+v", retry, v1)
	}
	dsn := schemaURL(t, r)
	if n := count(t, dsn, `SELECT count(*) FROM model_versions`); n != 1 {
		t.Errorf("%d versions after a retry, want 1", n)
	}

	// Another workflow execution, and another run of the same workflow ID,
	// each make a new version.
	v2, err := r.CreateVersion(ctx, newVersion("m", "wf-b", "r"))
	if err != nil || v2.Version != 2 {
		t.Fatalf("second workflow: %+v, %v", v2, err)
	}
	v3, err := r.CreateVersion(ctx, newVersion("m", "wf-b", "r2"))
	if err != nil || v3.Version != 3 {
		t.Fatalf("second run of the workflow: %+v, %v", v3, err)
	}
	// Numbering is per model.
	o1, err := r.CreateVersion(ctx, newVersion("other", "wf-b", "r"))
	if err != nil || o1.Version != 1 {
		t.Fatalf("other model: %+v, %v", o1, err)
	}

	got, err := r.Version(ctx, "m", 1)
	if err != nil || !reflect.DeepEqual(got, v1) {
		t.Errorf("Version(m, 1) = %+v, %v", got, err)
	}
	vs, err := r.Versions(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if nums := versionNumbers(vs); !slices.Equal(nums, []int{3, 2, 1}) {
		t.Errorf("Versions = %v, want newest first", nums)
	}
	models, err := r.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].Name != "m" || models[0].LatestVersion != 3 || models[1].Name != "other" || models[1].LatestVersion != 1 {
		t.Errorf("Models = %+v", models)
	}

	bad := newVersion("m", "wf-c", "r")
	bad.DatasetDigest = "nope"
	if _, err := r.CreateVersion(ctx, bad); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "dataset nope") {
		t.Errorf("unknown dataset: err = %v, want ErrNotFound naming it", err)
	}
	bad = newVersion("m", "wf-c", "r")
	bad.RunID = 1 << 40
	if _, err := r.CreateVersion(ctx, bad); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "run ") {
		t.Errorf("unknown run: err = %v, want ErrNotFound naming it", err)
	}
	// The failed attempts used no version numbers.
	if v4, err := r.CreateVersion(ctx, newVersion("m", "wf-c", "r")); err != nil || v4.Version != 4 {
		t.Errorf("after failures: %+v, %v; want version 4", v4, err)
	}
}

func versionNumbers(vs []Version) []int {
	var nums []int
	for _, v := range vs {
		nums = append(nums, v.Version)
	}
	return nums
}

func TestCreateVersionConcurrent(t *testing.T) {
	dsn := freshSchema(t)
	// Two handles, as a worker and a second worker would have.
	regs := []*Registry{open(t, dsn), open(t, dsn)}
	ctx := testCtx(t)
	recordDataset(t, regs[0], "ds1")

	const workers, each = 8, 5
	var wg sync.WaitGroup
	shared := make([]int, workers)    // the version each worker got for the shared registration
	created := make([][]int, workers) // the versions each worker created
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			r := regs[w%len(regs)]
			// Every worker races on the same registration, as retried
			// activities on several workers would, then registers its own.
			v, err := r.CreateVersion(ctx, newVersion("m", "wf-shared", "r"))
			if err != nil {
				errs[w] = err
				return
			}
			shared[w] = v.Version
			for i := range each {
				v, err := r.CreateVersion(ctx, newVersion("m", fmt.Sprintf("wf-%d-%d", w, i), "r"))
				if err != nil {
					errs[w] = err
					return
				}
				created[w] = append(created[w], v.Version)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, v := range shared[1:] {
		if v != shared[0] {
			t.Fatalf("the shared registration got versions %v, want one", shared)
		}
	}
	all := []int{shared[0]}
	for _, vs := range created {
		all = append(all, vs...)
	}
	slices.Sort(all)
	for i, v := range all {
		if v != i+1 {
			t.Fatalf("versions %v are not 1..%d without gaps or repeats", all, workers*each+1)
		}
	}
	if n := count(t, dsn, `SELECT count(*) FROM model_versions`); n != workers*each+1 {
		t.Errorf("%d rows, want %d", n, workers*each+1)
	}
}

// listen runs Listen in the background for the test and returns its events.
// It waits for the first Resync, so LISTEN is active when it returns.
func listen(t *testing.T, dsn string) (<-chan AliasEvent, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	events := make(chan AliasEvent, 100)
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, dsn, nil, func(ev AliasEvent) { events <- ev }) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { _ = stop() })
	select {
	case ev := <-events:
		if !ev.Resync {
			t.Fatalf("first event %+v, want a resync", ev)
		}
	case err := <-done:
		done <- err // for stop
		t.Fatalf("Listen: %v", err)
	}
	return events, stop
}

// next returns the next event about model (other tests share the channel).
func next(t *testing.T, events <-chan AliasEvent, model string) AliasEvent {
	t.Helper()
	ctx := testCtx(t)
	for {
		select {
		case ev := <-events:
			if ev.Resync || ev.Model == model {
				return ev
			}
		case <-ctx.Done():
			t.Fatal("no alias event")
		}
	}
}

// withVersions opens a registry on a fresh schema and registers a new
// model with versions 1..n.
func withVersions(t *testing.T, n int) (r *Registry, dsn string, ctx context.Context, model string) {
	t.Helper()
	dsn = freshSchema(t)
	r = open(t, dsn)
	ctx = testCtx(t)
	recordDataset(t, r, "ds1")
	model = randomName("m")
	for i := range n {
		if _, err := r.CreateVersion(ctx, newVersion(model, fmt.Sprint("wf", i), "r")); err != nil {
			t.Fatal(err)
		}
	}
	return r, dsn, ctx, model
}

func TestAliasesHistoryNotifyRollback(t *testing.T) {
	r, dsn, ctx, model := withVersions(t, 3)
	events, stop := listen(t, dsn)

	move := func(alias string, v int, wantMoved bool, wantFrom int) {
		t.Helper()
		mv, err := r.SetAlias(ctx, model, alias, v, "because "+alias, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if mv.Moved != wantMoved || mv.To != v || mv.From != wantFrom || mv.Model != model || mv.Alias != alias {
			t.Fatalf("SetAlias(%s, %d) = %+v, want moved=%v from %d", alias, v, mv, wantMoved, wantFrom)
		}
		if wantMoved && (mv.ID == 0 || mv.MovedAt.IsZero() || mv.Reason != "because "+alias || mv.Actor != "alice") {
			t.Fatalf("move not recorded: %+v", mv)
		}
	}
	move(AliasProduction, 1, true, 0)
	move(AliasProduction, 1, false, 1) // no-op: no history, no NOTIFY
	if _, err := r.SetAlias(ctx, model, AliasProduction, 99, "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown version: err = %v, want ErrNotFound", err)
	}
	move(AliasChallenger, 2, true, 0)
	move(AliasProduction, 2, true, 1)

	for _, want := range []AliasEvent{
		{Model: model, Alias: AliasProduction, From: 0, To: 1},
		{Model: model, Alias: AliasChallenger, From: 0, To: 2},
		{Model: model, Alias: AliasProduction, From: 1, To: 2},
	} {
		if got := next(t, events, model); got != want {
			t.Fatalf("event %+v, want %+v", got, want)
		}
	}

	aliases, err := r.Aliases(ctx, model)
	if err != nil || !reflect.DeepEqual(aliases, map[string]int{AliasProduction: 2, AliasChallenger: 2}) {
		t.Errorf("Aliases = %v, %v", aliases, err)
	}
	prod, err := r.Alias(ctx, model, AliasProduction)
	if err != nil || prod.Version != 2 || !slices.Equal(prod.Aliases, []string{AliasChallenger, AliasProduction}) {
		t.Errorf("Alias(production) = %+v, %v", prod, err)
	}

	rb, err := r.Rollback(ctx, model, AliasProduction, "", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !rb.Moved || rb.From != 2 || rb.To != 1 || rb.Actor != "bob" || !strings.HasPrefix(rb.Reason, "rollback of move ") {
		t.Errorf("Rollback = %+v", rb)
	}
	if got, want := next(t, events, model), (AliasEvent{Model: model, Alias: AliasProduction, From: 2, To: 1}); got != want {
		t.Errorf("rollback event %+v, want %+v", got, want)
	}
	// A second rollback goes further back, not to the version the first
	// took out of service: here there is nothing further back.
	if rb2, err := r.Rollback(ctx, model, AliasProduction, "undo", "bob"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "nothing earlier to go back to") {
		t.Errorf("second Rollback = %+v, %v; want ErrConflict", rb2, err)
	}
	if _, err := r.Rollback(ctx, model, AliasChallenger, "", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("rollback of an alias set once: err = %v, want ErrConflict", err)
	}
	if _, err := r.Rollback(ctx, model, "staging", "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("rollback of an unset alias: err = %v, want ErrNotFound", err)
	}

	hist, err := r.AliasHistory(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		alias    string
		from, to int
	}
	var got []step
	for _, h := range hist {
		got = append(got, step{h.Alias, h.From, h.To})
		if !h.Moved || h.Model != model || h.MovedAt.IsZero() {
			t.Errorf("history entry %+v", h)
		}
	}
	want := []step{{"production", 2, 1}, {"production", 1, 2}, {"challenger", 0, 2}, {"production", 0, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("history %v, want %v (newest first, no entry for the no-op)", got, want)
	}

	models, err := r.Models(ctx)
	if err != nil || len(models) != 1 || !reflect.DeepEqual(models[0].Aliases, map[string]int{AliasProduction: 1, AliasChallenger: 2}) {
		t.Errorf("Models = %+v, %v", models, err)
	}
	if err := stop(); err != nil {
		t.Errorf("Listen returned %v after cancel, want nil", err)
	}
}

func TestListenReconnects(t *testing.T) {
	dsn := freshSchema(t)
	r := open(t, dsn)
	ctx := testCtx(t)
	recordDataset(t, r, "ds1")
	model := randomName("m")
	if _, err := r.CreateVersion(ctx, newVersion(model, "wf", "r")); err != nil {
		t.Fatal(err)
	}
	app := randomName("listen_")
	events, _ := listen(t, withParam(t, dsn, "application_name", app))

	var killed int
	err := adminDB(t).QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listener connections, %v; want 1", killed, err)
	}
	if ev := next(t, events, model); !ev.Resync {
		t.Fatalf("after the connection loss got %+v, want a resync", ev)
	}
	if _, err := r.SetAlias(ctx, model, AliasProduction, 1, "", ""); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, model); ev != (AliasEvent{Model: model, Alias: AliasProduction, To: 1}) {
		t.Errorf("after reconnecting got %+v", ev)
	}
}

func TestNotFound(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	recordDataset(t, r, "ds1")
	if _, err := r.CreateVersion(ctx, newVersion("m", "wf", "r")); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["version of unknown model"] = r.Version(ctx, "nope", 1)
	_, checks["unknown version"] = r.Version(ctx, "m", 2)
	_, checks["version beyond the column's range"] = r.Version(ctx, "m", 3_000_000_000)
	_, checks["versions of unknown model"] = r.Versions(ctx, "nope")
	_, checks["unset alias"] = r.Alias(ctx, "m", AliasProduction)
	_, checks["alias of unknown model"] = r.Alias(ctx, "nope", AliasProduction)
	_, checks["aliases of unknown model"] = r.Aliases(ctx, "nope")
	_, checks["set alias of unknown model"] = r.SetAlias(ctx, "nope", AliasProduction, 1, "", "")
	_, checks["set alias to unknown version"] = r.SetAlias(ctx, "m", AliasProduction, 2, "", "")
	_, checks["set alias beyond the column's range"] = r.SetAlias(ctx, "m", AliasProduction, 3_000_000_000, "", "")
	_, checks["rollback without history"] = r.Rollback(ctx, "m", AliasProduction, "", "")
	_, checks["history of unknown model"] = r.AliasHistory(ctx, "nope")
	for name, err := range checks {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	if aliases, err := r.Aliases(ctx, "m"); err != nil || len(aliases) != 0 {
		t.Errorf("Aliases of a model without any = %v, %v", aliases, err)
	}
	if hist, err := r.AliasHistory(ctx, "m"); err != nil || len(hist) != 0 {
		t.Errorf("AliasHistory of a model without moves = %v, %v", hist, err)
	}
}

func TestOpenWrongPassword(t *testing.T) {
	base := baseURL(t)
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		t.Skip("DATABASE_URL is not a URL")
	}
	user := u.User.Username()
	u.User = url.UserPassword(user, "wrong-"+randomName(""))
	r, err := Open(testCtx(t), u.String(), nil)
	if err == nil {
		r.Close()
		t.Skip("the server accepts any password (trust authentication)")
	}
	want := "registry: authentication failed for user " + user
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}
	if strings.Contains(err.Error(), "wrong-") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestCompareAndSetAlias(t *testing.T) {
	r, _, ctx, model := withVersions(t, 3)
	// Unset alias: expected 0 sets it.
	if mv, err := r.CompareAndSetAlias(ctx, model, AliasProduction, 0, 1, "first", "gate"); err != nil || !mv.Moved {
		t.Fatalf("first set: %+v, %v", mv, err)
	}
	// Two gates both compared against v1; the first wins, the second must
	// not overwrite it.
	if mv, err := r.CompareAndSetAlias(ctx, model, AliasProduction, 1, 2, "beats v1", "gate A"); err != nil || mv.From != 1 || mv.To != 2 {
		t.Fatalf("gate A: %+v, %v", mv, err)
	}
	if _, err := r.CompareAndSetAlias(ctx, model, AliasProduction, 1, 3, "beats v1", "gate B"); !errors.Is(err, ErrConflict) {
		t.Fatalf("gate B against a stale production: err = %v, want ErrConflict", err)
	}
	if v, err := r.Alias(ctx, model, AliasProduction); err != nil || v.Version != 2 {
		t.Fatalf("production = %d, %v; want 2", v.Version, err)
	}
	// A retry of gate A, after its move landed, is a no-op, not a conflict.
	if mv, err := r.CompareAndSetAlias(ctx, model, AliasProduction, 1, 2, "beats v1", "gate A"); err != nil || mv.Moved {
		t.Fatalf("retried gate A: %+v, %v", mv, err)
	}
}

// A new alias that differs from another only in case is refused as a
// typo; moving the existing one, and aliases of other names, are not.
func TestAliasCaseTypo(t *testing.T) {
	r, _, ctx, model := withVersions(t, 2)
	if _, err := r.SetAlias(ctx, model, AliasProduction, 1, "first", "test"); err != nil {
		t.Fatal(err)
	}
	_, err := r.SetAlias(ctx, model, "Production", 2, "typo", "test")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `beside "production", which differs only in case`) {
		t.Fatalf("Production beside production: %v, want ErrInvalid naming production", err)
	}
	if _, err := r.Alias(ctx, model, "Production"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused alias was set: %v", err)
	}
	if mv, err := r.SetAlias(ctx, model, AliasProduction, 2, "move", "test"); err != nil || !mv.Moved {
		t.Errorf("moving production: %+v, %v", mv, err)
	}
	if mv, err := r.SetAlias(ctx, model, "Staging", 1, "new", "test"); err != nil || !mv.Moved {
		t.Errorf("a new alias of another name: %+v, %v", mv, err)
	}
	if mv, err := r.SetAlias(ctx, model, "Staging", 2, "move", "test"); err != nil || !mv.Moved {
		t.Errorf("moving it: %+v, %v", mv, err)
	}
}

// TestPublishIsAtomic checks that Publish moves the alias and finishes the
// run together: a stale expectation or a run that already failed leaves
// both as they were, and a repeat of a landed publication changes nothing.
func TestPublishIsAtomic(t *testing.T) {
	r, _, ctx, model := withVersions(t, 3)
	start := func(wf string) int64 {
		t.Helper()
		run, err := r.StartRun(ctx, Run{Model: model, WorkflowID: wf, WorkflowRunID: "r"})
		if err != nil {
			t.Fatal(err)
		}
		return run.ID
	}
	status := func(id int64) RunStatus {
		t.Helper()
		run, err := r.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return run.Status
	}
	production := func() int {
		t.Helper()
		v, err := r.Alias(ctx, model, AliasProduction)
		if errors.Is(err, ErrNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	zero, one := 0, 1

	first := start("wf-first")
	pub := Publication{RunID: first, Model: model, Alias: AliasProduction, Version: 1, Expected: &zero, Reason: "first", Actor: "gate"}
	for i := range 2 {
		mv, err := r.Publish(ctx, pub)
		if err != nil || mv.Moved != (i == 0) {
			t.Fatalf("publish %d: %+v, %v", i, mv, err)
		}
	}
	if production() != 1 || status(first) != RunSucceeded {
		t.Fatalf("after publishing: production v%d, run %s", production(), status(first))
	}

	// A gate that compared with an unset production is stale now: nothing
	// moves and its run stays running.
	stale := start("wf-stale")
	_, err := r.Publish(ctx, Publication{RunID: stale, Model: model, Alias: AliasProduction, Version: 2, Expected: &zero})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale expectation: err = %v, want ErrConflict", err)
	}
	if production() != 1 || status(stale) != RunRunning {
		t.Fatalf("after a stale publish: production v%d, run %s", production(), status(stale))
	}

	// A run that already failed cannot publish: the alias stays.
	failed := start("wf-failed")
	if err := r.FinishRun(ctx, failed, RunFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	_, err = r.Publish(ctx, Publication{RunID: failed, Model: model, Alias: AliasProduction, Version: 3, Expected: &one})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("failed run: err = %v, want ErrConflict", err)
	}
	if production() != 1 || status(failed) != RunFailed {
		t.Fatalf("after a failed run's publish: production v%d, run %s", production(), status(failed))
	}
	// Nor can an unknown run; an unconditional move to challenger works.
	if _, err := r.Publish(ctx, Publication{RunID: 1 << 40, Model: model, Alias: AliasChallenger, Version: 3}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown run: err = %v, want ErrNotFound", err)
	}
	if _, err := r.Alias(ctx, model, AliasChallenger); !errors.Is(err, ErrNotFound) {
		t.Fatalf("challenger set by an unknown run's publish: %v", err)
	}
	if _, err := r.Publish(ctx, Publication{RunID: stale, Model: model, Alias: AliasChallenger, Version: 2, Reason: "not better"}); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Alias(ctx, model, AliasChallenger); err != nil || v.Version != 2 || status(stale) != RunSucceeded {
		t.Fatalf("challenger v%d (%v), run %s", v.Version, err, status(stale))
	}
}

// RollbackFrom undoes a bad version once, however many people ask at once.
func TestRollbackFrom(t *testing.T) {
	r, _, ctx, model := withVersions(t, 2)
	for v := 1; v <= 2; v++ {
		if _, err := r.SetAlias(ctx, model, AliasProduction, v, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.RollbackFrom(ctx, model, AliasProduction, 1, "", "alice"); !errors.Is(err, ErrConflict) {
		t.Errorf("stale expectation: err = %v, want ErrConflict", err)
	}
	if mv, err := r.RollbackFrom(ctx, model, AliasProduction, 2, "v2 is bad", "alice"); err != nil || !mv.Moved || mv.To != 1 {
		t.Fatalf("RollbackFrom(2) = %+v, %v", mv, err)
	}
	// Bob saw v2 too and asks a moment later: his undo must not bring v2 back.
	if _, err := r.RollbackFrom(ctx, model, AliasProduction, 2, "v2 is bad", "bob"); !errors.Is(err, ErrConflict) {
		t.Errorf("second RollbackFrom(2): err = %v, want ErrConflict", err)
	}
	if a, err := r.Alias(ctx, model, AliasProduction); err != nil || a.Version != 1 {
		t.Errorf("production = %+v, %v; want version 1", a, err)
	}
	if _, err := r.RollbackFrom(ctx, model, AliasProduction, 0, "", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("expected 0: err = %v, want ErrInvalid", err)
	}
	if _, err := r.RollbackFrom(ctx, model, "staging", 2, "", ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "alias is not set, not at the expected version 2") {
		t.Errorf("an alias never set: err = %v, want it said", err)
	}
}

// Rollbacks go back through the promotions one after another, never to a
// version one of them took out of service; RollbackOf rolls back only from
// the history its caller read.
func TestRollbackTargetAndRollbackOf(t *testing.T) {
	r, _, ctx, model := withVersions(t, 4)
	for _, v := range []int{1, 4, 2} {
		if _, err := r.SetAlias(ctx, model, AliasProduction, v, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if undo, latest, err := r.RollbackTarget(ctx, model, "staging"); err != nil || undo.ID != 0 || latest != 0 {
		t.Errorf("RollbackTarget of an unset alias = %+v, %d, %v", undo, latest, err)
	}
	// 2 is bad, then 4 too: back to 2's predecessor 4, then to 1.
	for _, want := range []int{4, 1} {
		undo, latest, err := r.RollbackTarget(ctx, model, AliasProduction)
		if err != nil || undo.From != want || latest == 0 {
			t.Fatalf("RollbackTarget = %+v, %d, %v; want back to %d", undo, latest, err, want)
		}
		mv, err := r.RollbackOf(ctx, model, AliasProduction, latest, "", "alice")
		if err != nil || mv.To != want || mv.RollbackOf != undo.ID {
			t.Fatalf("RollbackOf = %+v, %v; want to %d undoing move %d", mv, err, want, undo.ID)
		}
	}
	if undo, latest, err := r.RollbackTarget(ctx, model, AliasProduction); err != nil || undo.ID != 0 || latest == 0 {
		t.Errorf("RollbackTarget with nothing further back = %+v, %d, %v", undo, latest, err)
	}
	if _, err := r.Rollback(ctx, model, AliasProduction, "", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("Rollback with nothing further back: %v, want ErrConflict", err)
	}
	hist, err := r.AliasHistory(ctx, model)
	if err != nil || len(hist) != 5 || hist[0].RollbackOf == 0 || hist[0].RollbackOf != hist[3].ID {
		t.Errorf("history %+v, %v; want the last rollback to name the move 1 → 4", hist, err)
	}

	// Someone moves production away and back while a caller checks: it
	// points where it did, but its history does not end where it did.
	_, latest, err := r.RollbackTarget(ctx, model, AliasProduction)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{3, 1} {
		if _, err := r.SetAlias(ctx, model, AliasProduction, v, "", "bob"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.RollbackOf(ctx, model, AliasProduction, latest, "", "alice"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "moved meanwhile") {
		t.Errorf("RollbackOf a history since moved on: %v, want ErrConflict", err)
	}
	// A move by hand is undone first: 1 goes back to 3.
	undo, latest, err := r.RollbackTarget(ctx, model, AliasProduction)
	if err != nil || undo.From != 3 {
		t.Fatalf("RollbackTarget after moves by hand = %+v, %v; want back to 3", undo, err)
	}
	if mv, err := r.RollbackOf(ctx, model, AliasProduction, latest, "", "alice"); err != nil || mv.To != 3 {
		t.Errorf("RollbackOf = %+v, %v; want back to 3", mv, err)
	}
	if _, err := r.RollbackOf(ctx, model, AliasProduction, 0, "", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("move 0: %v, want ErrInvalid", err)
	}
}

// Migration 0005 takes a move that exactly reverses the one before it,
// recorded before rollbacks named the move they undid, for a rollback: the
// next rollback does not bring back the version it took out of service.
func TestMigrationNamesOldRollbacks(t *testing.T) {
	r, dsn, ctx, model := withVersions(t, 2)
	for _, v := range []int{1, 2, 1} { // the last one as old code rolled back
		if _, err := r.SetAlias(ctx, model, AliasProduction, v, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.version == 5 })
	if i < 0 || !strings.Contains(ms[i].sql, "UPDATE alias_history") {
		t.Fatal("migration 5 does not update alias_history")
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	backfill := ms[i].sql[strings.Index(ms[i].sql, "UPDATE alias_history"):]
	if _, err := db.ExecContext(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	hist, err := r.AliasHistory(ctx, model)
	if err != nil || len(hist) != 3 || hist[0].RollbackOf != hist[1].ID || hist[1].RollbackOf != 0 || hist[2].RollbackOf != 0 {
		t.Fatalf("history after the migration %+v, %v; want the last move named a rollback of the one before", hist, err)
	}
	if _, err := r.Rollback(ctx, model, AliasProduction, "", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("Rollback after an old rollback: %v, want ErrConflict (not back to 2)", err)
	}
}

// An alias other than production can be removed: the history records who
// removed it and why, listeners hear of it, and a rollback puts it back.
func TestRemoveAlias(t *testing.T) {
	r, dsn, ctx, model := withVersions(t, 2)
	events, _ := listen(t, dsn)
	if _, err := r.SetAlias(ctx, model, AliasProduction, 1, "first", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetAlias(ctx, model, AliasChallenger, 2, "gate", "workflow"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RemoveAlias(ctx, model, AliasChallenger, 1, "not that one", "bob"); !errors.Is(err, ErrConflict) {
		t.Errorf("removal expecting another version: %v, want ErrConflict", err)
	}
	mv, err := r.RemoveAlias(ctx, model, AliasChallenger, 2, "lost the A/B test", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !mv.Moved || mv.From != 2 || mv.To != 0 || mv.ID == 0 || mv.Reason != "lost the A/B test" || mv.Actor != "bob" {
		t.Errorf("removal %+v", mv)
	}
	if aliases, err := r.Aliases(ctx, model); err != nil || len(aliases) != 1 || aliases[AliasProduction] != 1 {
		t.Errorf("aliases after the removal: %v, %v", aliases, err)
	}
	if _, err := r.Alias(ctx, model, AliasChallenger); !errors.Is(err, ErrNotFound) {
		t.Errorf("Alias(challenger) after the removal: %v, want ErrNotFound", err)
	}
	for _, want := range []AliasEvent{
		{Model: model, Alias: AliasProduction, To: 1},
		{Model: model, Alias: AliasChallenger, To: 2},
		{Model: model, Alias: AliasChallenger, From: 2, To: 0},
	} {
		if got := next(t, events, model); got != want {
			t.Fatalf("event %+v, want %+v", got, want)
		}
	}
	hist, err := r.AliasHistory(ctx, model)
	if err != nil || len(hist) != 3 || hist[0].To != 0 || hist[0].From != 2 || hist[0].Reason != "lost the A/B test" {
		t.Fatalf("history %+v, %v", hist, err)
	}
	if got := MovesOf(hist, 2); len(got) != 2 || got[0].ID != mv.ID {
		t.Errorf("moves of v2 %+v, want its removal then its setting", got)
	}
	if _, err := r.RemoveAlias(ctx, model, AliasChallenger, -1, "again", "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing an alias not set: %v, want ErrNotFound", err)
	}
	// A conditional removal retried after it landed changes nothing.
	if again, err := r.RemoveAlias(ctx, model, AliasChallenger, 2, "lost the A/B test", "bob"); err != nil || again.Moved {
		t.Errorf("retried removal %+v, %v; want moved false", again, err)
	}
	if h, err := r.AliasHistory(ctx, model); err != nil || len(h) != 3 {
		t.Errorf("history after the retry: %d moves, %v; want 3", len(h), err)
	}
	if _, err := r.RemoveAlias(ctx, model, AliasProduction, -1, "oops", "bob"); !errors.Is(err, ErrConflict) {
		t.Errorf("removing production: %v, want ErrConflict", err)
	}
	// A rollback undoes the removal.
	back, err := r.Rollback(ctx, model, AliasChallenger, "removed by mistake", "bob")
	if err != nil || back.To != 2 || back.RollbackOf != mv.ID {
		t.Fatalf("rollback of the removal: %+v, %v", back, err)
	}
	if v, err := r.Alias(ctx, model, AliasChallenger); err != nil || v.Version != 2 {
		t.Errorf("challenger after the rollback: %+v, %v", v, err)
	}
	// Removed, then set again: before that it was not set, which a
	// rollback says as such, not as its first version.
	if _, err := r.RemoveAlias(ctx, model, AliasChallenger, -1, "again", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetAlias(ctx, model, AliasChallenger, 1, "gate", "workflow"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rollback(ctx, model, AliasChallenger, "undo", "bob"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "it had been removed") {
		t.Errorf("rollback of a move after a removal: %v", err)
	}
}
