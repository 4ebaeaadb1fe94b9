package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// RunStatus is the state of a training run.
type RunStatus string

// Run states. A run starts running and finishes once: succeeded, failed,
// or canceled when someone asked it to stop.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCanceled  RunStatus = "canceled"
)

// Run is one execution of the training pipeline.
type Run struct {
	// ID is assigned by StartRun.
	ID    int64  `json:"id"`
	Model string `json:"model"`
	// WorkflowID and WorkflowRunID identify the Temporal workflow execution;
	// together they are the run's idempotency key.
	WorkflowID    string `json:"workflow_id"`
	WorkflowRunID string `json:"workflow_run_id"`
	// DatasetDigest, when set, must name a recorded dataset.
	DatasetDigest string `json:"dataset_digest,omitempty"`
	// Feed and FeedVersion, when the run trained on a data feed, name the
	// published version it read; both or neither are set.
	Feed        string `json:"feed,omitempty"`
	FeedVersion int    `json:"feed_version,omitempty"`
	// Params are the training parameters, a JSON object.
	Params      json.RawMessage `json:"params"`
	CodeVersion string          `json:"code_version"`
	// The fields below are set by the registry.
	Status     RunStatus          `json:"status"`
	Error      string             `json:"error,omitempty"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at,omitempty"`
	Metrics    map[string]float64 `json:"metrics"`
}

// maxErrorText bounds the stored error text: Temporal error chains can be
// long and the text is for people, not for parsing.
const maxErrorText = 8 << 10

const runColumns = `id, model_name, workflow_id, workflow_run_id, dataset_digest, feed_name, feed_version,
	params, code_version, status, error, started_at, finished_at`

// StartRun records the start of run and returns it with its ID. It is
// idempotent on (WorkflowID, WorkflowRunID): a second call returns the run
// the first one created, filling in DatasetDigest, the feed version, Params
// and CodeVersion only where the first call left them empty. A
// DatasetDigest or feed version that is not recorded is ErrNotFound.
func (r *Registry) StartRun(ctx context.Context, run Run) (Run, error) {
	if err := checkRun(run); err != nil {
		return Run{}, fmt.Errorf("registry: start run of %s: %w", run.Model, err)
	}
	params, err := jsonObject("params", run.Params)
	if err != nil {
		return Run{}, fmt.Errorf("registry: start run of %s: %w", run.Model, err)
	}
	var feed sql.NullString
	var feedVersion sql.NullInt64
	if run.Feed != "" {
		feed = sql.NullString{String: run.Feed, Valid: true}
		feedVersion = sql.NullInt64{Int64: int64(run.FeedVersion), Valid: true}
	}
	row := r.db.QueryRowContext(ctx, `INSERT INTO runs (model_name, workflow_id, workflow_run_id, dataset_digest,
			feed_name, feed_version, params, code_version)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8)
		ON CONFLICT (workflow_id, workflow_run_id) DO UPDATE SET
			dataset_digest = COALESCE(runs.dataset_digest, EXCLUDED.dataset_digest),
			feed_name = COALESCE(runs.feed_name, EXCLUDED.feed_name),
			feed_version = COALESCE(runs.feed_version, EXCLUDED.feed_version),
			params = CASE WHEN runs.params = '{}'::jsonb THEN EXCLUDED.params ELSE runs.params END,
			code_version = CASE WHEN runs.code_version = '' THEN EXCLUDED.code_version ELSE runs.code_version END
		RETURNING `+runColumns,
		run.Model, run.WorkflowID, run.WorkflowRunID, run.DatasetDigest, feed, feedVersion, params, run.CodeVersion)
	got, err := scanRun(row)
	if e := pq.As(err, pqerror.ForeignKeyViolation); e != nil {
		if e.Constraint == "runs_feed_version_fkey" {
			return Run{}, fmt.Errorf("registry: start run of %s: version %d of feed %s is not published: %w", run.Model, run.FeedVersion, run.Feed, ErrNotFound)
		}
		return Run{}, fmt.Errorf("registry: start run of %s: dataset %s is not recorded: %w", run.Model, run.DatasetDigest, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("registry: start run of %s: %w", run.Model, err)
	}
	if got.Model != run.Model {
		return Run{}, fmt.Errorf("registry: start run of %s: workflow %s/%s already has run %d of model %s: %w",
			run.Model, run.WorkflowID, run.WorkflowRunID, got.ID, got.Model, ErrConflict)
	}
	got.Metrics = map[string]float64{}
	return got, nil
}

func checkRun(run Run) error {
	if err := checkName("model", run.Model); err != nil {
		return err
	}
	if run.WorkflowID == "" || run.WorkflowRunID == "" {
		return fmt.Errorf("workflow ID and workflow run ID are required: %w", ErrInvalid)
	}
	if (run.Feed == "") != (run.FeedVersion == 0) {
		return fmt.Errorf("feed %q version %d: want both or neither: %w", run.Feed, run.FeedVersion, ErrInvalid)
	}
	if run.Feed != "" {
		if err := CheckFeedName(run.Feed); err != nil {
			return err
		}
		if run.FeedVersion < 0 {
			return fmt.Errorf("feed %s version %d: want a positive version: %w", run.Feed, run.FeedVersion, ErrInvalid)
		}
	}
	return nil
}

// FinishRun marks the run succeeded, failed or canceled, with errText
// saying why it did not succeed. Repeating the call with the same status
// is a no-op that keeps the first finish time and error; finishing a
// finished run with another status is ErrConflict.
func (r *Registry) FinishRun(ctx context.Context, runID int64, status RunStatus, errText string) error {
	if err := finishRun(ctx, r.db, runID, status, errText); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// execQuerier is what finishRun needs of a *sql.DB or *sql.Tx.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// finishRun is FinishRun on db, which may be a transaction.
func finishRun(ctx context.Context, db execQuerier, runID int64, status RunStatus, errText string) error {
	if status != RunSucceeded && status != RunFailed && status != RunCanceled {
		return fmt.Errorf("finish run %d: status %q: want %s, %s or %s: %w", runID, status, RunSucceeded, RunFailed, RunCanceled, ErrInvalid)
	}
	res, err := db.ExecContext(ctx, `UPDATE runs SET status = $2, error = $3, finished_at = now()
		WHERE id = $1 AND status = 'running'`, runID, string(status), cleanText(errText, maxErrorText))
	if err != nil {
		return fmt.Errorf("finish run %d: %w", runID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish run %d: %w", runID, err)
	} else if n == 1 {
		return nil
	}
	var cur string
	err = db.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = $1`, runID).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("finish run %d: %w", runID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("finish run %d: %w", runID, err)
	case RunStatus(cur) != status:
		return fmt.Errorf("finish run %d as %s: it finished as %s: %w", runID, status, cur, ErrRunFinished)
	}
	return nil
}

// RecordMetrics records the run's metrics, replacing earlier values of the
// same names, so a retried evaluation writes the same rows again.
func (r *Registry) RecordMetrics(ctx context.Context, runID int64, m map[string]float64) error {
	if err := checkMetrics(m); err != nil {
		return fmt.Errorf("registry: record metrics of run %d: %w", runID, err)
	}
	if len(m) == 0 {
		return nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	values := make([]float64, len(names))
	for i, k := range names {
		values[i] = m[k]
	}
	// One statement, so the metrics land together or not at all.
	_, err := r.db.ExecContext(ctx, `INSERT INTO metrics (run_id, name, value)
		SELECT $1, n, v FROM unnest($2::text[], $3::double precision[]) AS t(n, v)
		ON CONFLICT (run_id, name) DO UPDATE SET value = EXCLUDED.value, recorded_at = now()`,
		runID, pq.Array(names), pq.Array(values))
	if pq.As(err, pqerror.ForeignKeyViolation) != nil {
		return fmt.Errorf("registry: record metrics of run %d: run %w", runID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("registry: record metrics of run %d: %w", runID, err)
	}
	return nil
}

// Run returns the run with the given ID and its metrics, or ErrNotFound.
func (r *Registry) Run(ctx context.Context, id int64) (Run, error) {
	run, err := scanRun(r.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("registry: run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("registry: run %d: %w", id, err)
	}
	runs := []Run{run}
	if err := r.attachMetrics(ctx, runs); err != nil {
		return Run{}, fmt.Errorf("registry: run %d: %w", id, err)
	}
	return runs[0], nil
}

// RunOfWorkflow returns the run StartRun recorded for a workflow execution,
// without its metrics.
func (r *Registry) RunOfWorkflow(ctx context.Context, workflowID, workflowRunID string) (Run, error) {
	run, err := scanRun(r.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE workflow_id = $1 AND workflow_run_id = $2`, workflowID, workflowRunID))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("registry: run of workflow %s/%s: %w", workflowID, workflowRunID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("registry: run of workflow %s/%s: %w", workflowID, workflowRunID, err)
	}
	return run, nil
}

// RunningRuns returns up to limit runs still marked running that started
// before before, with IDs above afterID, in ID order and without their
// metrics: the candidates for a check against Temporal of runs whose
// workflow ended without a word. Pass the last ID for the next page.
func (r *Registry) RunningRuns(ctx context.Context, before time.Time, afterID int64, limit int) ([]Run, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE status = 'running' AND started_at < $1 AND id > $2
		ORDER BY id LIMIT $3`, before, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("registry: running runs: %w", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("registry: running runs: %w", err)
		}
		runs = append(runs, run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: running runs: %w", err)
	}
	return runs, nil
}

// Runs returns the model's most recent runs with their metrics, newest
// first. limit <= 0 means 50. An unknown model has no runs.
func (r *Registry) Runs(ctx context.Context, model string, limit int) ([]Run, error) {
	if err := checkName("model", model); err != nil {
		return nil, fmt.Errorf("registry: runs: %w", err)
	}
	if limit <= 0 {
		limit = 50
	}
	rows, err := r.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE model_name = $1
		ORDER BY started_at DESC, id DESC LIMIT $2`, model, limit)
	if err != nil {
		return nil, fmt.Errorf("registry: runs of %s: %w", model, err)
	}
	defer rows.Close()
	runs := []Run{}
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("registry: runs of %s: %w", model, err)
		}
		runs = append(runs, run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: runs of %s: %w", model, err)
	}
	if err := r.attachMetrics(ctx, runs); err != nil {
		return nil, fmt.Errorf("registry: runs of %s: %w", model, err)
	}
	return runs, nil
}

// attachMetrics fills in the Metrics of runs with one query.
func (r *Registry) attachMetrics(ctx context.Context, runs []Run) error {
	if len(runs) == 0 {
		return nil
	}
	ids := make([]int64, len(runs))
	byID := make(map[int64]*Run, len(runs))
	for i := range runs {
		runs[i].Metrics = map[string]float64{}
		ids[i] = runs[i].ID
		byID[runs[i].ID] = &runs[i]
	}
	rows, err := r.db.QueryContext(ctx, `SELECT run_id, name, value FROM metrics WHERE run_id = ANY($1)`, pq.Array(ids))
	if err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			name string
			v    float64
		)
		if err := rows.Scan(&id, &name, &v); err != nil {
			return fmt.Errorf("read metrics: %w", err)
		}
		byID[id].Metrics[name] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRun(s scanner) (Run, error) {
	var (
		run         Run
		digest      sql.NullString
		feed        sql.NullString
		feedVersion sql.NullInt64
		params      []byte
		status      string
		finished    sql.NullTime
	)
	if err := s.Scan(&run.ID, &run.Model, &run.WorkflowID, &run.WorkflowRunID, &digest, &feed, &feedVersion,
		&params, &run.CodeVersion, &status, &run.Error, &run.StartedAt, &finished); err != nil {
		return Run{}, err
	}
	run.DatasetDigest = digest.String
	run.Feed, run.FeedVersion = feed.String, int(feedVersion.Int64)
	run.Params = json.RawMessage(params)
	run.Status = RunStatus(status)
	if finished.Valid {
		t := finished.Time
		run.FinishedAt = &t
	}
	return run, nil
}

// cleanText makes s storable in a text column (valid UTF-8, no NUL) and at
// most limit bytes long, cut at a rune boundary.
func cleanText(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
