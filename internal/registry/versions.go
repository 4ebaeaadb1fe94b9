package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/sirupsen/logrus"
)

// NewVersion is what CreateVersion registers: a trained model and its
// lineage.
type NewVersion struct {
	Model string
	// RunID is the registry run that trained it; 0 when there is none.
	RunID int64
	// WorkflowID and WorkflowRunID identify the workflow execution that
	// registers the version; with Model they are the idempotency key.
	WorkflowID    string
	WorkflowRunID string
	// DatasetDigest must name a recorded dataset.
	DatasetDigest string
	// Params are the training parameters, a JSON object.
	Params      json.RawMessage
	CodeVersion string
	// ArtifactKey and ArtifactDigest locate the model file in the bucket.
	ArtifactKey    string
	ArtifactDigest string
	// ReportKey locates the evaluation report.
	ReportKey string
	// Metrics on the holdout, including weighted_f1.
	Metrics map[string]float64
	// Signature describes the model's input and output, a JSON object.
	Signature json.RawMessage
}

// Version is a registered model version.
type Version struct {
	Model         string `json:"model"`
	Version       int    `json:"version"`
	RunID         int64  `json:"run_id,omitempty"`
	WorkflowID    string `json:"workflow_id"`
	WorkflowRunID string `json:"workflow_run_id"`
	DatasetDigest string `json:"dataset_digest"`
	// Feed and FeedVersion name the published data the version was
	// trained on, when its run read a data feed.
	Feed           string             `json:"feed,omitempty"`
	FeedVersion    int                `json:"feed_version,omitempty"`
	Params         json.RawMessage    `json:"params"`
	CodeVersion    string             `json:"code_version"`
	ArtifactKey    string             `json:"artifact_key"`
	ArtifactDigest string             `json:"artifact_digest"`
	ReportKey      string             `json:"report_key"`
	Metrics        map[string]float64 `json:"metrics"`
	Signature      json.RawMessage    `json:"signature"`
	CreatedAt      time.Time          `json:"created_at"`
	// Aliases are the aliases pointing at this version when it was read,
	// sorted.
	Aliases []string `json:"aliases"`
}

// MetricWeightedF1 is the metric the promotion gate compares.
const MetricWeightedF1 = "weighted_f1"

// WeightedF1 returns the version's weighted F1 and whether it has one.
func (v Version) WeightedF1() (float64, bool) {
	f, ok := v.Metrics[MetricWeightedF1]
	return f, ok
}

// Model is a registered model.
type Model struct {
	Name          string         `json:"name"`
	CreatedAt     time.Time      `json:"created_at"`
	LatestVersion int            `json:"latest_version"`
	Aliases       map[string]int `json:"aliases"`
}

const versionQuery = `SELECT v.model_name, v.version, v.run_id, v.workflow_id, v.workflow_run_id, v.dataset_digest,
	r.feed_name, r.feed_version, v.params, v.code_version, v.artifact_key, v.artifact_digest, v.report_key, v.metrics, v.signature, v.created_at,
	COALESCE((SELECT array_agg(a.alias ORDER BY a.alias) FROM aliases a
		WHERE a.model_name = v.model_name AND a.version = v.version), '{}')
	FROM model_versions v LEFT JOIN runs r ON r.id = v.run_id`

// CreateVersion registers a new version of nv.Model, numbered one more than
// the model's latest, creating the registered model on its first version.
// It is idempotent on (Model, WorkflowID, WorkflowRunID): when that
// workflow execution already registered a version, that version is
// returned and nothing is written. An unrecorded dataset or run is
// ErrNotFound.
func (r *Registry) CreateVersion(ctx context.Context, nv NewVersion) (Version, error) {
	v, err := r.createVersion(ctx, nv)
	if err != nil {
		return Version{}, fmt.Errorf("registry: create version of %s: %w", nv.Model, err)
	}
	return v, nil
}

func (r *Registry) createVersion(ctx context.Context, nv NewVersion) (Version, error) {
	if err := checkNewVersion(nv); err != nil {
		return Version{}, err
	}
	params, err := jsonObject("params", nv.Params)
	if err != nil {
		return Version{}, err
	}
	signature, err := jsonObject("signature", nv.Signature)
	if err != nil {
		return Version{}, err
	}
	metrics, err := json.Marshal(nonNil(nv.Metrics))
	if err != nil {
		return Version{}, err
	}

	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return Version{}, err
	}
	defer rollback(tx)
	if _, err := tx.ExecContext(ctx, `INSERT INTO registered_models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, nv.Model); err != nil {
		return Version{}, err
	}
	// The lock serialises CreateVersion per model: the idempotency check and
	// max+1 below see every version committed before it.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE`, nv.Model); err != nil {
		return Version{}, err
	}
	existing, err := scanVersion(tx.QueryRowContext(ctx, versionQuery+`
		WHERE v.model_name = $1 AND v.workflow_id = $2 AND v.workflow_run_id = $3`,
		nv.Model, nv.WorkflowID, nv.WorkflowRunID))
	switch {
	case err == nil:
		if existing.ArtifactDigest != nv.ArtifactDigest {
			// Training is meant to be deterministic; say so loudly, but keep
			// the retry working by returning what was registered.
			r.log.WithFields(logrus.Fields{
				"model": nv.Model, "version": existing.Version, "workflow_id": nv.WorkflowID,
				"registered_digest": existing.ArtifactDigest, "retry_digest": nv.ArtifactDigest,
			}).Warn("registry: retried registration has a different artifact digest; keeping the registered version")
		}
		return existing, tx.Commit()
	case !errors.Is(err, sql.ErrNoRows):
		return Version{}, err
	}

	var next int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model_name = $1`, nv.Model).Scan(&next); err != nil {
		return Version{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO model_versions (model_name, version, run_id, workflow_id, workflow_run_id,
			dataset_digest, params, code_version, artifact_key, artifact_digest, report_key, metrics, signature)
		VALUES ($1, $2, NULLIF($3::bigint, 0), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		nv.Model, next, nv.RunID, nv.WorkflowID, nv.WorkflowRunID,
		nv.DatasetDigest, params, nv.CodeVersion, nv.ArtifactKey, nv.ArtifactDigest, nv.ReportKey, string(metrics), signature)
	if pe := pq.As(err, pqerror.ForeignKeyViolation); pe != nil {
		if pe.Constraint == "model_versions_run_id_fkey" {
			return Version{}, fmt.Errorf("run %d is not recorded: %w", nv.RunID, ErrNotFound)
		}
		return Version{}, fmt.Errorf("dataset %s is not recorded: %w", nv.DatasetDigest, ErrNotFound)
	}
	if err != nil {
		return Version{}, err
	}
	v, err := scanVersion(tx.QueryRowContext(ctx, versionQuery+` WHERE v.model_name = $1 AND v.version = $2`, nv.Model, next))
	if err != nil {
		return Version{}, err
	}
	if err := tx.Commit(); err != nil {
		return Version{}, err
	}
	r.log.WithFields(logrus.Fields{"model": nv.Model, "version": next, "workflow_id": nv.WorkflowID}).Info("registry: created model version")
	return v, nil
}

func checkNewVersion(nv NewVersion) error {
	if err := checkName("model", nv.Model); err != nil {
		return err
	}
	switch {
	case nv.WorkflowID == "" || nv.WorkflowRunID == "":
		return fmt.Errorf("workflow ID and workflow run ID are required: %w", ErrInvalid)
	case nv.DatasetDigest == "":
		return fmt.Errorf("dataset digest is required: %w", ErrInvalid)
	case nv.ArtifactKey == "" || nv.ArtifactDigest == "":
		return fmt.Errorf("artifact key and digest are required: %w", ErrInvalid)
	case nv.RunID < 0:
		return fmt.Errorf("run ID %d: %w", nv.RunID, ErrInvalid)
	}
	return checkMetrics(nv.Metrics)
}

// Version returns version v of model, or ErrNotFound.
func (r *Registry) Version(ctx context.Context, model string, v int) (Version, error) {
	if err := checkName("model", model); err != nil {
		return Version{}, fmt.Errorf("registry: version %d: %w", v, err)
	}
	if !versionInRange(v) {
		return Version{}, fmt.Errorf("registry: version %d of %s: %w", v, model, ErrNotFound)
	}
	ver, err := scanVersion(r.db.QueryRowContext(ctx, versionQuery+` WHERE v.model_name = $1 AND v.version = $2`, model, v))
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, fmt.Errorf("registry: version %d of %s: %w", v, model, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("registry: version %d of %s: %w", v, model, err)
	}
	return ver, nil
}

// versionInRange reports whether v fits the version column; PostgreSQL
// would answer a bigger number with an error, not with "no such version".
func versionInRange(v int) bool { return v >= 1 && v <= math.MaxInt32 }

// Versions returns the model's versions, newest first, or ErrNotFound for
// an unknown model.
func (r *Registry) Versions(ctx context.Context, model string) ([]Version, error) {
	if err := checkName("model", model); err != nil {
		return nil, fmt.Errorf("registry: versions: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, versionQuery+` WHERE v.model_name = $1 ORDER BY v.version DESC`, model)
	if err != nil {
		return nil, fmt.Errorf("registry: versions of %s: %w", model, err)
	}
	defer rows.Close()
	var vs []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("registry: versions of %s: %w", model, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: versions of %s: %w", model, err)
	}
	// A registered model always has a version: it is created with its first.
	if len(vs) == 0 {
		return nil, fmt.Errorf("registry: versions of %s: model %w", model, ErrNotFound)
	}
	return vs, nil
}

// Models returns the registered models, by name, with their aliases.
func (r *Registry) Models(ctx context.Context) ([]Model, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT m.name, m.created_at, COALESCE(MAX(v.version), 0)
		FROM registered_models m LEFT JOIN model_versions v ON v.model_name = m.name
		GROUP BY m.name, m.created_at ORDER BY m.name`)
	if err != nil {
		return nil, fmt.Errorf("registry: models: %w", err)
	}
	defer rows.Close()
	models := []Model{}
	byName := make(map[string]int)
	for rows.Next() {
		m := Model{Aliases: map[string]int{}}
		if err := rows.Scan(&m.Name, &m.CreatedAt, &m.LatestVersion); err != nil {
			return nil, fmt.Errorf("registry: models: %w", err)
		}
		byName[m.Name] = len(models)
		models = append(models, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: models: %w", err)
	}
	rows.Close()

	arows, err := r.db.QueryContext(ctx, `SELECT model_name, alias, version FROM aliases`)
	if err != nil {
		return nil, fmt.Errorf("registry: models: aliases: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var (
			model, alias string
			v            int
		)
		if err := arows.Scan(&model, &alias, &v); err != nil {
			return nil, fmt.Errorf("registry: models: aliases: %w", err)
		}
		// A model registered after the first query has no entry; it shows
		// up on the next call.
		if i, ok := byName[model]; ok {
			models[i].Aliases[alias] = v
		}
	}
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("registry: models: aliases: %w", err)
	}
	return models, nil
}

func scanVersion(s scanner) (Version, error) {
	var (
		v                    Version
		runID                sql.NullInt64
		feed                 sql.NullString
		feedVersion          sql.NullInt64
		params, metrics, sig []byte
	)
	if err := s.Scan(&v.Model, &v.Version, &runID, &v.WorkflowID, &v.WorkflowRunID, &v.DatasetDigest,
		&feed, &feedVersion, &params, &v.CodeVersion, &v.ArtifactKey, &v.ArtifactDigest, &v.ReportKey, &metrics, &sig, &v.CreatedAt,
		pq.Array(&v.Aliases)); err != nil {
		return Version{}, err
	}
	v.RunID = runID.Int64
	v.Feed, v.FeedVersion = feed.String, int(feedVersion.Int64)
	v.Params = json.RawMessage(params)
	v.Signature = json.RawMessage(sig)
	if err := json.Unmarshal(metrics, &v.Metrics); err != nil {
		return Version{}, fmt.Errorf("version %d metrics: %w", v.Version, err)
	}
	if v.Metrics == nil {
		v.Metrics = map[string]float64{}
	}
	if v.Aliases == nil {
		v.Aliases = []string{}
	}
	return v, nil
}
