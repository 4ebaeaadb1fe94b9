package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/testenv"
)

// run runs the starter with args and returns what it printed on stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func TestFeedPublishShowAndTrainChecks(t *testing.T) {
	testenv.Integration(t)
	t.Setenv("PRODCAT_LOG_LEVEL", "warn")
	feed := fmt.Sprintf("starter-test-%d", time.Now().UnixNano())
	csv := filepath.Join(t.TempDir(), "products.csv")
	// The feed's name in a title makes the file, and so its key, new.
	data := fmt.Sprintf("title,category\nred cotton shirt %s,top\nblue denim jeans,bottom\n", feed)
	if err := os.WriteFile(csv, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	publish := func() map[string]any {
		t.Helper()
		out, err := run(t, "feed", "publish", feed, "--csv", csv, "--text-col", "title", "--label-col", "category", "--note", "first")
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("publish printed %q: %v", out, err)
		}
		return got
	}
	if got := publish(); got["version"] != 1.0 || got["added"] != true {
		t.Errorf("first publish printed %v, want version 1 added", got)
	}
	if got := publish(); got["version"] != 1.0 || got["added"] != false {
		t.Errorf("publishing the same file again printed %v, want version 1 not added", got)
	}
	out, err := run(t, "feed", "show", feed)
	if err != nil {
		t.Fatal(err)
	}
	var hist []struct {
		Version int            `json:"version"`
		Note    string         `json:"note"`
		Source  map[string]any `json:"source"`
	}
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatalf("show printed %q: %v", out, err)
	}
	if len(hist) != 1 || hist[0].Note != "first" || !strings.HasPrefix(fmt.Sprint(hist[0].Source["csv_key"]), "raw/") {
		t.Errorf("history %+v, want one version with the note and an uploaded csv_key", hist)
	}

	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"missing object": {[]string{"feed", "publish", feed, "--csv-key", "raw/" + strings.Repeat("c", 64) + ".csv", "--text-col", "t", "--label-col", "l"}, "is not in bucket"},
		"file and key":   {[]string{"feed", "publish", feed, "--csv", csv, "--csv-key", "raw/" + strings.Repeat("c", 64) + ".csv", "--text-col", "t", "--label-col", "l"}, "not both"},
		"no columns":     {[]string{"feed", "publish", feed, "--csv", csv}, "needs text_cols and label_col"},
		"wrong column":   {[]string{"feed", "publish", feed, "--csv", csv, "--text-col", "nosuch", "--label-col", "category"}, `missing column(s) "nosuch"`},
		"X without Y":    {[]string{"feed", "publish", feed, "--x", filepath.Join(t.TempDir(), "missing.csv")}, "give both --x (or --x-key) and --y"},
		"bad name":       {[]string{"feed", "publish", "a/b", "--csv", csv, "--text-col", "title", "--label-col", "category"}, `feed name "a/b"`},
		"unknown feed":   {[]string{"feed", "show", feed + "-none"}, "was never published"},
		"train on none":  {[]string{"train", "--feed", feed + "-none"}, "was never published"},
		"feed and keys":  {[]string{"train", "--feed", feed, "--csv-key", "raw/x.csv"}, "either feed or object keys"},
	} {
		if _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	// The failed publishes added nothing.
	out, err = run(t, "feed", "show", feed)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &hist); err != nil || len(hist) != 1 {
		t.Errorf("after the failed publishes: %d versions (%v), want 1", len(hist), err)
	}

	// A schedule on the feed keeps the gate it is given, a margin of 0
	// included.
	id := "starter-test-" + feed
	if _, err := run(t, "schedule", "create", id, "--every", "24h", "--paused", "--feed", feed, "--margin", "0", "--floor", "0.6"); err != nil {
		t.Fatal(err)
	}
	// A window with no slot due is refused without pointing at --help.
	_, berr := run(t, "schedule", "backfill", id, "--from", "2025-01-01T01:00:00Z", "--to", "2025-01-01T01:01:00Z")
	out, err = run(t, "schedule", "describe", id)
	if _, derr := run(t, "schedule", "delete", id); derr != nil {
		t.Errorf("delete the schedule: %v", derr)
	}
	if berr == nil || !strings.Contains(berr.Error(), "no run is due") || strings.Contains(berr.Error(), "--help") || exitCode(berr) != 2 {
		t.Errorf("backfill with no slot due: %v (exit %d), want exit 2 and no --help", berr, exitCode(berr))
	}
	if err != nil {
		t.Fatal(err)
	}
	var desc struct {
		Training struct {
			Source  map[string]any     `json:"source"`
			Gate    map[string]float64 `json:"gate"`
			GateSet bool               `json:"gate_set"`
		} `json:"training"`
	}
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("describe printed %q: %v", out, err)
	}
	if tr := desc.Training; tr.Source["feed"] != feed || tr.Gate["margin"] != 0 || tr.Gate["floor"] != 0.6 || !tr.GateSet {
		t.Errorf("schedule trains %+v; want feed %s with margin 0 and floor 0.6 as given", tr, feed)
	}
}

// A training or schedule on a feed whose latest version names an object
// since removed from the bucket is refused before anything starts.
func TestTrainOnFeedWithRemovedObject(t *testing.T) {
	_, reg, _ := services(t, "starter-feedgone-")
	feed := fmt.Sprintf("starter-gone-%d", time.Now().UnixNano())
	gone := "raw/" + strings.Repeat("d", 64) + ".csv"
	if _, _, err := reg.PublishFeed(t.Context(), feed, json.RawMessage(`{"csv_key":"`+gone+`","text_cols":["title"],"label_col":"category"}`), "test", ""); err != nil {
		t.Fatal(err)
	}
	want := "feed " + feed + " version 1: "
	for _, args := range [][]string{
		{"train", "--feed", feed},
		{"schedule", "create", "starter-test-" + feed, "--every", "24h", "--paused", "--feed", feed},
	} {
		if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), gone+" is not in bucket") || !strings.Contains(err.Error(), "publish a new version of the feed") || strings.Contains(err.Error(), "upload it first") {
			t.Errorf("%s: error %v, want one naming the feed version and the missing object", args[0], err)
		}
	}
}

// schedule update changes the settings it is given and keeps the others:
// the model trained on, the source, the gate, the jitter, the state.
func TestScheduleUpdateKeepsWhatIsNotGiven(t *testing.T) {
	testenv.Integration(t)
	t.Setenv("PRODCAT_LOG_LEVEL", "warn")
	feed := fmt.Sprintf("starter-upd-%d", time.Now().UnixNano())
	csv := filepath.Join(t.TempDir(), "products.csv")
	if err := os.WriteFile(csv, []byte("title,category\nred cotton shirt "+feed+",top\nblue denim jeans,bottom\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "feed", "publish", feed, "--csv", csv, "--text-col", "title", "--label-col", "category"); err != nil {
		t.Fatal(err)
	}
	id := "starter-test-" + feed
	if _, err := run(t, "schedule", "create", id, "--cron", "0 3 * * *", "--jitter", "10m", "--paused", "--feed", feed,
		"--model", "fashion", "--margin", "0", "--floor", "0.6", "--holdout", "0.3", "--overlap", "buffer_one"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = run(t, "schedule", "delete", id) })
	describe := func() (s struct {
		Paused   bool   `json:"paused"`
		Cron     string `json:"cron"`
		Every    string `json:"every"`
		Jitter   string `json:"jitter"`
		Overlap  string `json:"overlap"`
		Training struct {
			ModelName string             `json:"model_name"`
			Source    map[string]any     `json:"source"`
			Gate      map[string]float64 `json:"gate"`
			Holdout   float64            `json:"holdout_fraction"`
			Params    *struct {
				Solver struct {
					C float64 `json:"c"`
				} `json:"solver"`
			} `json:"params"`
		} `json:"training"`
	}) {
		t.Helper()
		out, err := run(t, "schedule", "describe", id)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("describe printed %q: %v", out, err)
		}
		return s
	}
	if _, err := run(t, "schedule", "update", id, "--cron", "0 4 * * *"); err != nil {
		t.Fatal(err)
	}
	s := describe()
	tr := s.Training
	if s.Cron != "0 4 * * *" || s.Jitter != "10m" || !s.Paused || s.Overlap != "buffer_one" || tr.ModelName != "fashion" || tr.Source["feed"] != feed ||
		tr.Gate["margin"] != 0 || tr.Gate["floor"] != 0.6 || tr.Holdout != 0.3 || tr.Params != nil {
		t.Errorf("after update --cron: %+v; want only the cron changed", s)
	}
	if _, err := run(t, "schedule", "update", id, "--every", "12h", "--c", "2", "--floor", "0.7"); err != nil {
		t.Fatal(err)
	}
	s = describe()
	tr = s.Training
	if s.Cron != "" || s.Every != "12h" || s.Jitter != "10m" || tr.ModelName != "fashion" || tr.Gate["margin"] != 0 || tr.Gate["floor"] != 0.7 ||
		tr.Params == nil || tr.Params.Solver.C != 2 {
		t.Errorf("after update --every --c --floor: %+v", s)
	}
	// A CSV's columns change alone, keeping the file and the other column.
	three := filepath.Join(t.TempDir(), "three.csv")
	if err := os.WriteFile(three, []byte("title,desc,category\nred shirt "+feed+",cotton,top\nblue jeans,denim,bottom\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keyOut, err := run(t, "upload", three)
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := strings.Cut(strings.TrimSpace(keyOut), "\t") // key, then the file
	csvID := id + "-csv"
	if _, err := run(t, "schedule", "create", csvID, "--every", "24h", "--paused", "--csv-key", key, "--text-col", "title", "--label-col", "category"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = run(t, "schedule", "delete", csvID) })
	if _, err := run(t, "schedule", "update", csvID, "--text-col", "title,desc"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "schedule", "describe", csvID)
	if err != nil {
		t.Fatal(err)
	}
	var csvSched struct {
		Training struct {
			Source activities.Source `json:"source"`
		} `json:"training"`
	}
	if err := json.Unmarshal([]byte(out), &csvSched); err != nil || csvSched.Training.Source.CSVKey != key ||
		strings.Join(csvSched.Training.Source.TextCols, ",") != "title,desc" || csvSched.Training.Source.LabelCol != "category" {
		t.Errorf("after update --text-col: %q, %v", out, err)
	}
	if _, err := run(t, "schedule", "update", csvID, "--label-col", "title"); err == nil || !strings.Contains(err.Error(), "both text and label") {
		t.Errorf("update making the label a text column: %v", err)
	}
	if _, err := run(t, "schedule", "update", id); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "nothing to update") {
		t.Errorf("update with no settings: %v", err)
	}
	if _, err := run(t, "schedule", "update", id+"-none", "--every", "1h"); err == nil || !strings.Contains(err.Error(), "use schedule create") {
		t.Errorf("update of an unknown schedule: %v", err)
	}
}
