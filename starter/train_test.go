package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/workflows"
)

func TestReadParams(t *testing.T) {
	for name, tc := range map[string]struct {
		json, err string
		c         float64
	}{
		"over the defaults": {json: `{"solver": {"c": 2}}`, c: 2},
		"unknown key":       {json: `{"c": 8}`, err: `unknown field "c"`},
		"nested typo":       {json: `{"solver": {"C_typo": 3}}`, err: `unknown field "C_typo"`},
		"trailing value":    {json: `{"solver": {"c": 2}} {"solver": {"c": 99}}`, err: "more than one JSON value"},
		"not JSON":          {json: `c=2`, err: "invalid character"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "params.json")
			if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := readParams(path)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			case tc.err == "" && p.Solver.C != tc.c:
				t.Errorf("C = %v, want %v", p.Solver.C, tc.c)
			}
		})
	}
	if _, err := readParams(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

// Wrong settings are refused before any file is uploaded: here the files do
// not even exist, and no service is needed to say what is wrong.
func TestTrainChecksBeforeUploading(t *testing.T) {
	dir := t.TempDir()
	x, y := filepath.Join(dir, "X.csv"), filepath.Join(dir, "Y.csv")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--holdout", "1.5"}, "--holdout 1.5: want a share of the rows in (0, 1)"},
		{[]string{"--floor", "2"}, "gate: floor 2 and margin 0.002"},
		{[]string{"--margin", "-1"}, "gate: floor 0.5 and margin -1"},
		{[]string{"--model", "a b"}, `model name "a b"`},
	} {
		_, err := run(t, append([]string{"train", "--x", x, "--y", y}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("train %v: err = %v, want it to say %q", tc.args, err, tc.want)
		}
	}
}

// predict-batch refuses a file without the columns the model reads before
// uploading it or starting a run (no services are up in this test).
func TestPredictBatchChecksColumnsFirst(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "new.csv")
	if err := os.WriteFile(csv, []byte("title,desc\nchaise,bois\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("S3_ENDPOINT", "127.0.0.1:1")
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	t.Setenv("DATABASE_URL", "postgres://prodcat@127.0.0.1:1/prodcat?sslmode=disable")
	_, err := run(t, "predict-batch", "--csv", csv, "--text-col", "nope")
	if err == nil || !strings.Contains(err.Error(), `missing column(s) "nope"`) {
		t.Errorf("err = %v, want the missing column named", err)
	}
}

// Mistakes in the command line itself are usage errors (exit status 2);
// a command that fails is not.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"},
		{"models", "nosuch"},
		{"train", "--nosuchflag"},
		{"train", "--holdout", "abc"},
		{"models", "show"},
		{"schedule", "describe", "a", "b"},
		{"models", "promote", "3"}, // --reason is required
		// Flags missing, wrong together or out of range, found by the
		// commands' own checks.
		{"train"},
		{"train", "--x", "X.csv", "--y", "Y.csv", "--holdout", "1.5"},
		{"train", "--x", "X.csv", "--y", "Y.csv", "--holdout", "0"},
		{"train", "--csv", "c.csv", "--text-col", "category", "--label-col", "category"},
		{"predict-batch"},
		{"offline"},
		{"offline", "--train", "t.csv", "--test", "t.csv", "--cv", "--folds", "1"},
		{"offline", "--train", "t.csv", "--test", "t.csv", "--cv", "--grid", `{"c":[-1]}`},
		{"offline", "--train", "t.csv", "--test", "t.csv", "--cv", "--grid", `{"char_ranges":[[5,3]]}`},
		{"offline", "--train", "t.csv", "--test", "t.csv", "--workers", "-3"},
		{"offline", "--train", "t.csv"},
		{"offline", "--log-level", "bogus"},
		{"schedule", "create", "nightly", "--feed", "catalogue"},
		{"schedule", "create", "nightly", "--feed", "catalogue", "--cron", "0 3 * * *", "--overlap", "bogus"},
		{"schedule", "backfill", "nightly", "--from", "2026-11-01T00:00:00Z"},
		{"schedule", "create", "nightly", "--feed", "catalogue", "--every", "24h", "--holdout", "1"},
		{"schedule", "update", "nightly", "--feed", "catalogue", "--every", "24h", "--max-reject-fraction", "0"},
		{"train", "--x", "X.csv", "--y", "Y.csv", "--max-reject-fraction", "1.5"},
		{"models", "promote", "two", "--reason", "x"},
		{"feed", "publish", "catalogue"},
		{"models", "rollback", "--reason", "x", "--expect", "0"},
		{"train", "--x-key", "models/" + strings.Repeat("e", 64) + ".bin", "--y-key", "raw/" + strings.Repeat("f", 64) + ".csv"},
		{"feed", "publish", "catalogue", "--x", "X.csv", "--y-key", "reports/" + strings.Repeat("f", 64) + ".json"},
		{"train", "--x", "X.csv", "--y", "Y.csv", "--c", "0"},
		{"schedule", "create", "nightly", "--feed", "catalogue", "--every", "24h", "--c", "-1"},
		{"train", "--x", "X.csv"},
		{"schedule", "create", "nightly", "--feed", "catalogue", "--every", "0s"},
		{"schedule", "backfill", "nightly", "--from", "2026-11-01", "--to", "2026-11-02T00:00:00Z"},
		{"models", "promote", "1", "--alias", "bad alias!", "--reason", "x"},
		{"models", "rollback", "--alias", "", "--reason", "x"},
		{"cancel", "train-x", "--run-id", "bogus"},
		{"cancel", "train-x", "--run-id", "9b2bd5a10c5e4f8e9d3e2f1c6a7b8c9d"},
		{"watch", "train-x", "--run-id", "bogus"},
		{"watch"},
		{"schedule", "update", "nightly"}, // nothing to update, found before connecting
		// Reasons the API refuses.
		{"models", "promote", "1", "--reason", ""},
		{"models", "promote", "1", "--reason", " \t"},
		{"models", "rollback", "--reason", ""},
		{"models", "rollback", "--reason", strings.Repeat("r", 1025)},
		// Workflow IDs POST /v1/trainings refuses.
		{"train", "--feed", "demo", "--id", "bad id"},
		{"train", "--feed", "demo", "--id", strings.Repeat("a", 300)},
		{"train", "--feed", "demo", "--id", "x/../y"},
		{"train", "--feed", "demo", "--id", "é"},
	} {
		_, err := run(t, args...)
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	// A source named two ways is told once, not with the columns it then
	// lacks as well.
	if _, err := run(t, "train", "--feed", "demo", "--csv-key", "raw/"+strings.Repeat("a", 64)+".csv"); !errors.As(err, new(usageError)) ||
		!strings.Contains(err.Error(), "not both") || strings.Contains(err.Error(), "text columns") {
		t.Errorf("feed and csv: err = %v, want the one mistake", err)
	}
	// A wrong setting in the environment.
	t.Setenv("PRODCAT_LOG_LEVEL", "loud")
	if _, err := run(t, "models", "list"); !errors.As(err, new(settingsError)) || !strings.Contains(err.Error(), "loud") || strings.Contains(err.Error(), "--help") {
		t.Errorf("PRODCAT_LOG_LEVEL=loud: err = %v, want a settings error", err)
	}
	t.Setenv("PRODCAT_LOG_LEVEL", "warn")
	// The same file as X and Y.
	dir := t.TempDir()
	same := filepath.Join(dir, "X.csv")
	if err := os.WriteFile(same, []byte(",designation,description,productid,imageid\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "train", "--x", same, "--y", same); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--x and --y name the same file") {
		t.Errorf("X given twice: err = %v, want a usage error", err)
	}
	// A command that fails is not a usage error.
	_, err := run(t, "train", "--x", filepath.Join(dir, "X.csv"), "--y", filepath.Join(dir, "Y.csv"))
	var usage usageError
	if err == nil || errors.As(err, &usage) {
		t.Errorf("a file that is not there: err = %v, want a plain failure", err)
	}
	if _, err := run(t, "models"); err != nil {
		t.Errorf("a command group alone shows its help: err = %v", err)
	}
}

// A run's summary names the report of the rows it left out, when it has
// one, and says nothing of it otherwise.
func TestPrintResultNamesTheRejects(t *testing.T) {
	for key, want := range map[string]bool{"reports/" + strings.Repeat("a", 64) + ".rejects.json": true, "": false} {
		var out bytes.Buffer
		printResult(&app{stdout: &out}, workflows.TrainingResult{ModelName: "m", Version: 2, Dataset: activities.IngestResult{Rows: 10, Rejected: 3, RejectsKey: key}})
		if got := strings.Contains(out.String(), "rejects     "+key+" "); got != want {
			t.Errorf("rejects key %q: summary\n%s", key, out.String())
		}
	}
}
