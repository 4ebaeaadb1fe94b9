// Package testenv locates the shared data sets and the local services for
// tests, skipping a test with a clear message when they are not configured.
package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/internal/config"
)

// Environment variables set by `go tool task test` and .ci/run.
const (
	DataDirVar   = "PRODCAT_DATA_DIR"    // ../shared/data
	SplitsDirVar = "PRODCAT_SPLITS_DIR"  // ../shared/bench/splits
	ServicesVar  = "PRODCAT_INTEGRATION" // "1" when Temporal, MinIO and PostgreSQL are up
)

// SplitsDir returns the directory of the benchmark splits, or skips t.
func SplitsDir(tb testing.TB) string { return dir(tb, SplitsDirVar) }

// DataDir returns the directory of the shared raw data, or skips t.
func DataDir(tb testing.TB) string { return dir(tb, DataDirVar) }

// Split returns the path of file in the named split (for example
// Split(t, "rakuten", "X_train.csv")), or skips t.
func Split(tb testing.TB, name, file string) string {
	return filepath.Join(SplitsDir(tb), name, file)
}

// Integration skips tb unless the local services are up.
func Integration(tb testing.TB) {
	tb.Helper()
	if os.Getenv(ServicesVar) != "1" {
		tb.Skipf("%s is not 1: integration test needs Temporal, MinIO and PostgreSQL (run `go tool task test`)", ServicesVar)
	}
}

func dir(tb testing.TB, name string) string {
	tb.Helper()
	d := os.Getenv(name)
	if d == "" {
		tb.Skipf("%s is not set: this test needs the shared data (run `go tool task test`)", name)
	}
	if _, err := os.Stat(d); err != nil {
		tb.Fatalf("%s=%s: %v", name, d, err)
	}
	return d
}

// Temporal returns a client of the local Temporal server, closed when tb
// ends, and the configuration it was made from; it skips tb unless the
// local services are up.
func Temporal(tb testing.TB) (client.Client, config.Config) {
	tb.Helper()
	Integration(tb)
	cfg, err := config.Load()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := client.DialContext(tb.Context(), client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c, cfg
}
