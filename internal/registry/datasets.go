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
)

// Dataset describes an immutable dataset snapshot.
type Dataset struct {
	// Digest is the snapshot's content digest and the dataset's identity.
	Digest string `json:"digest"`
	// SourceKeys are the bucket keys of the input files it was read from.
	SourceKeys []string `json:"source_keys"`
	// TrainKey, HoldoutKey and RejectsKey are the bucket keys of the
	// training part, the holdout and the report of rejected rows.
	TrainKey   string `json:"train_key"`
	HoldoutKey string `json:"holdout_key"`
	RejectsKey string `json:"rejects_key,omitempty"`
	// Rows and Classes count the usable rows and their distinct labels.
	Rows    int `json:"rows"`
	Classes int `json:"classes"`
	// Rejected counts the rows left out; RejectReasons counts them by reason.
	Rejected      int            `json:"rejected"`
	RejectReasons map[string]int `json:"reject_reasons"`
	// The holdout split: the fraction of each class held out, the salt of
	// the hash that chooses the rows, and the resulting sizes.
	HoldoutFraction float64 `json:"holdout_fraction"`
	HoldoutSalt     string  `json:"holdout_salt"`
	TrainRows       int     `json:"train_rows"`
	HoldoutRows     int     `json:"holdout_rows"`
	// CreatedAt is set by the registry.
	CreatedAt time.Time `json:"created_at"`
}

// RecordDataset records d. It is idempotent on d.Digest: when the digest is
// already recorded the existing row is kept (the same digest means the same
// data) and nil is returned.
func (r *Registry) RecordDataset(ctx context.Context, d Dataset) error {
	if err := checkDataset(d); err != nil {
		return fmt.Errorf("registry: record dataset %s: %w", d.Digest, err)
	}
	reasons, err := json.Marshal(nonNil(d.RejectReasons))
	if err != nil {
		return fmt.Errorf("registry: record dataset %s: %w", d.Digest, err)
	}
	sources := d.SourceKeys
	if sources == nil {
		sources = []string{}
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO datasets (digest, source_keys, train_key, holdout_key, rejects_key,
			row_count, class_count, rejected_count, reject_reasons, holdout_fraction, holdout_salt, train_rows, holdout_rows)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (digest) DO NOTHING`,
		d.Digest, pq.Array(sources), d.TrainKey, d.HoldoutKey, d.RejectsKey,
		d.Rows, d.Classes, d.Rejected, string(reasons), d.HoldoutFraction, d.HoldoutSalt, d.TrainRows, d.HoldoutRows)
	if err != nil {
		return fmt.Errorf("registry: record dataset %s: %w", d.Digest, err)
	}
	return nil
}

func checkDataset(d Dataset) error {
	switch {
	case d.Digest == "":
		return fmt.Errorf("empty digest: %w", ErrInvalid)
	case d.Rows < 0 || d.Classes < 0 || d.Rejected < 0 || d.TrainRows < 0 || d.HoldoutRows < 0:
		return fmt.Errorf("negative count: %w", ErrInvalid)
	case math.IsNaN(d.HoldoutFraction) || d.HoldoutFraction < 0 || d.HoldoutFraction >= 1:
		return fmt.Errorf("holdout fraction %v: want 0 <= f < 1: %w", d.HoldoutFraction, ErrInvalid)
	}
	return nil
}

// Dataset returns the dataset with the given digest, or ErrNotFound.
func (r *Registry) Dataset(ctx context.Context, digest string) (Dataset, error) {
	var (
		d       Dataset
		reasons []byte
	)
	err := r.db.QueryRowContext(ctx, `SELECT digest, source_keys, train_key, holdout_key, rejects_key,
			row_count, class_count, rejected_count, reject_reasons, holdout_fraction, holdout_salt,
			train_rows, holdout_rows, created_at
		FROM datasets WHERE digest = $1`, digest).Scan(
		&d.Digest, pq.Array(&d.SourceKeys), &d.TrainKey, &d.HoldoutKey, &d.RejectsKey,
		&d.Rows, &d.Classes, &d.Rejected, &reasons, &d.HoldoutFraction, &d.HoldoutSalt,
		&d.TrainRows, &d.HoldoutRows, &d.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Dataset{}, fmt.Errorf("registry: dataset %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return Dataset{}, fmt.Errorf("registry: dataset %s: %w", digest, err)
	}
	if err := json.Unmarshal(reasons, &d.RejectReasons); err != nil {
		return Dataset{}, fmt.Errorf("registry: dataset %s: reject reasons: %w", digest, err)
	}
	if d.SourceKeys == nil {
		d.SourceKeys = []string{}
	}
	return d, nil
}

func nonNil[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
