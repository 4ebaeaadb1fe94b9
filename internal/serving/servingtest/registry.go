package servingtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver, for creating schemas

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/registry"
)

// RandomName returns prefix followed by random hex, for names that other
// tests and users of the same services do not share.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Registry opens the registry in a new PostgreSQL schema of the database
// at databaseURL, dropped when tb ends, and returns it with the connection
// string that selects the schema (the one to give registry.Listen).
func Registry(tb testing.TB, databaseURL string) (*registry.Registry, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("servingtest: DATABASE_URL must be a postgres:// URL for tests (got an invalid one: %v)", err)
	}
	db, err := sql.Open("postgres", databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	schema := RandomName("prodcat_test_")
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		tb.Fatalf("servingtest: create schema: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	reg, err := registry.Open(ctx, dsn, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		reg.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("servingtest: drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	return reg, dsn
}

// Publish puts a model file (and its evaluation report, when not nil) in
// the bucket and registers it as the next version of model, with a data set
// record, as the pipeline's register step would.
func Publish(tb testing.TB, reg *registry.Registry, store *artifact.Store, model string, data, report []byte) registry.Version {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ref, err := store.Put(ctx, artifact.Model, data, ".bin", "application/octet-stream")
	if err != nil {
		tb.Fatal(err)
	}
	return Register(tb, reg, store, model, ref.Key, ref.Digest, report)
}

// Register registers the file at key as the next version of model,
// recording digest as its artifact digest, without checking either. Each
// of with may change the version's record first.
func Register(tb testing.TB, reg *registry.Registry, store *artifact.Store, model, key, digest string, report []byte, with ...func(*registry.NewVersion)) registry.Version {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nv := registry.NewVersion{
		Model: model, WorkflowID: RandomName("servingtest-"), WorkflowRunID: "run",
		DatasetDigest: "servingtest-dataset", ArtifactKey: key, ArtifactDigest: digest,
		Params: json.RawMessage(`{"features":{"hash_bits":12}}`), CodeVersion: "servingtest",
		Metrics: map[string]float64{registry.MetricWeightedF1: 0.9, "macro_f1": 0.85, "accuracy": 0.9},
	}
	if report != nil {
		ref, err := store.Put(ctx, artifact.Report, report, ".json", "application/json")
		if err != nil {
			tb.Fatal(err)
		}
		nv.ReportKey = ref.Key
	}
	if err := reg.RecordDataset(ctx, registry.Dataset{
		Digest: nv.DatasetDigest, SourceKeys: []string{"raw/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.csv", "raw/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.csv"}, Rows: 18, Classes: 3, TrainRows: 18,
	}); err != nil {
		tb.Fatal(err)
	}
	for _, fn := range with {
		fn(&nv)
	}
	v, err := reg.CreateVersion(ctx, nv)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
