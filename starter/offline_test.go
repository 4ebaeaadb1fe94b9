package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
)

// writeCatalogue writes a small synthetic catalogue as generic CSV and as
// raw challenge X/Y files, and returns their paths.
func writeCatalogue(t *testing.T, name string, n int) (generic, x, y string) {
	t.Helper()
	kinds := []struct{ label, title, body string }{
		{"10", "Livre roman policier tome %d", "<p>Un <b>roman</b> palpitant</p>"},
		{"2583", "Pompe filtration piscine %d m3", "Pour piscine hors-sol &amp; enterrée"},
		{"1280", "Peluche ours enfant %d cm", ""},
	}
	var g, xs, ys strings.Builder
	g.WriteString("title,desc,label\n")
	xs.WriteString(",designation,description,productid,imageid\n")
	ys.WriteString(",prdtypecode\n")
	for i := range n {
		k := kinds[i%len(kinds)]
		title := fmt.Sprintf(k.title, i)
		fmt.Fprintf(&g, "%q,%q,%s\n", title, k.body, k.label)
		fmt.Fprintf(&xs, "%d,%q,%q,%d,%d\n", i, title, k.body, 1000+i, 2000+i)
		fmt.Fprintf(&ys, "%d,%s\n", i, k.label)
	}
	dir := t.TempDir()
	generic, x, y = filepath.Join(dir, name+".csv"), filepath.Join(dir, "X_"+name+".csv"), filepath.Join(dir, "Y_"+name+".csv")
	for path, s := range map[string]string{generic: g.String(), x: xs.String(), y: ys.String()} {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return generic, x, y
}

func TestOfflineGenericJSON(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	out := filepath.Join(t.TempDir(), "model.bin")
	preds := filepath.Join(t.TempDir(), "predictions.csv")
	var stdout, stderr bytes.Buffer
	f := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", jsonOut: true, out: out, predictions: preds, logLevel: "warn", maxReject: 1}
	if err := runOffline(context.Background(), f, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("not one JSON object: %q", stdout.String())
	}
	for _, k := range []string{"weighted_f1", "macro_f1", "accuracy", "train_seconds", "predict_rows_per_second", "model_bytes", "peak_rss_bytes"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, res[k])
		}
	}
	for _, k := range []string{"log_loss", "ece"} {
		if v, ok := res[k].(float64); !ok || v < 0 || v > 1 {
			t.Errorf("%s = %v, want a number in [0, 1] on an easy catalogue", k, res[k])
		}
	}
	if res["weighted_f1"].(float64) < 0.99 {
		t.Errorf("weighted F1 %v on an easy catalogue", res["weighted_f1"])
	}
	m := readModel(t, out)
	// A generic CSV's codes mean what its owner says, even when they look
	// like prdtypecodes: the model does not name them from the taxonomy.
	if p := m.Predict("Pompe pour piscine", "", 1); p.Best.Code != "2583" || p.Best.FR != "" || p.Best.EN != "" {
		t.Errorf("prediction from the written model: %+v", p.Best)
	}
	checkPredictions(t, preds, 30)
}

// checkPredictions reads a --predictions file of an easy catalogue: a header
// and one correct, confident row per test example, ids in input order.
func checkPredictions(t *testing.T, path string, rows int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != rows+1 || !slices.Equal(recs[0], []string{"id", "label", "predicted", "probability"}) {
		t.Fatalf("predictions: %d records, header %q; want %d rows after the header", len(recs), recs[0], rows)
	}
	for i, r := range recs[1:] {
		p, err := strconv.ParseFloat(r[3], 64)
		if r[0] != strconv.Itoa(i+1) || r[1] == "" || r[2] != r[1] || err != nil || p <= 0.5 || p > 1 {
			t.Errorf("prediction row %d: %q", i+1, r)
		}
	}
}

// --json reports the rows each set left out, by reason.
func TestOfflineJSONReportsRejects(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	f, err := os.OpenFile(train, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(",,10\n\"\",\"\",2583\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	flags := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", jsonOut: true, logLevel: "error", maxReject: 1}
	if err := runOffline(context.Background(), flags, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var res struct {
		TrainRows int                       `json:"train_rows"`
		Rejects   map[string]map[string]int `json:"rejects"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.TrainRows != 60 || len(res.Rejects) != 1 || res.Rejects["train"][dataset.KindEmptyText] != 2 {
		t.Errorf("train rows %d, rejects %v; want 60 rows and 2 empty-text rejects in train", res.TrainRows, res.Rejects)
	}
}

// A test file most of whose rows are rejected (here: no label) fails at
// the default limit instead of being scored on what is left.
func TestOfflineRejectLimit(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	f, err := os.OpenFile(test, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Repeat("chaise en bois,meuble,\n", 10)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	flags := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", jsonOut: true, logLevel: "error", maxReject: 0.1}
	err = runOffline(context.Background(), flags, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "above the limit of 10.0%") {
		t.Errorf("err = %v, want the reject limit", err)
	}
}

// Test rows whose label the training set lacks count as mistakes, with a
// warning; a test file made mostly of them is refused.
func TestOfflineTestLabelsTheTrainingSetLacks(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	f, err := os.OpenFile(test, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\"Chaise en bois\",,1560\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	flags := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", jsonOut: true, logLevel: "warn", maxReject: 0.1}
	if err := runOffline(context.Background(), flags, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var res offlineResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.TestRows != 31 || res.Accuracy > 30.0/31 || !strings.Contains(stderr.String(), "labels the training set lacks") || !strings.Contains(stderr.String(), "1560") {
		t.Errorf("%d test rows, accuracy %v, log %q; want 31, the unknown row a mistake, and a warning naming 1560", res.TestRows, res.Accuracy, stderr.String())
	}

	// Training on one task and testing on another.
	other := filepath.Join(t.TempDir(), "other.csv")
	if err := os.WriteFile(other, []byte("title,desc,label\nChaise,,1560\nTable,,1560\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags.test = other
	err = runOffline(context.Background(), flags, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "2 of 2 test rows (100%) have labels the training set lacks") {
		t.Errorf("err = %v, want the test file refused", err)
	}
}

func TestOfflinePredictionsUnwritable(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	preds := filepath.Join(t.TempDir(), "missing", "predictions.csv")
	var stdout, stderr bytes.Buffer
	f := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", predictions: preds, logLevel: "warn", maxReject: 1}
	err := runOffline(context.Background(), f, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "write predictions") {
		t.Fatalf("err = %v, want a write predictions error", err)
	}
	if _, err := os.Stat(filepath.Dir(preds)); !os.IsNotExist(err) {
		t.Errorf("something was created: %v", err)
	}
}

func TestOfflineRawReport(t *testing.T) {
	_, xTrain, yTrain := writeCatalogue(t, "train", 60)
	_, xTest, yTest := writeCatalogue(t, "test", 30)
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "model.bin")
	f := offlineFlags{xTrain: xTrain, yTrain: yTrain, xTest: xTest, yTest: yTest, logLevel: "info", maxReject: 1, out: out}
	if err := runOffline(context.Background(), f, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	// The challenge's files carry prdtypecodes: the model names them.
	if p := readModel(t, out).Predict("Pompe pour piscine", "", 1); p.Best.Code != "2583" || p.Best.FR == "" || p.Best.EN == "" {
		t.Errorf("prediction from the written model: %+v", p.Best)
	}
	for _, want := range []string{"weighted F1", "2583", "model", "peak RSS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "msg=trained") {
		t.Errorf("no text log line for training: %q", stderr.String())
	}
}

// --cv --grid '{}' cross-validates the default parameters and nothing else.
func TestOfflineCVOverGivenGrid(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	for grid, want := range map[string]int{"{}": 1, `{"c":[0.5,1]}`: 2} {
		var stdout, stderr bytes.Buffer
		f := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", jsonOut: true, cv: true, folds: 3, grid: grid, logLevel: "warn", maxReject: 1}
		if err := runOffline(context.Background(), f, &stdout, &stderr); err != nil {
			t.Fatalf("grid %s: %v\n%s", grid, err, stderr.String())
		}
		var res offlineResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.CV) != want {
			t.Errorf("grid %s: %d candidates, want %d", grid, len(res.CV), want)
		}
		for _, c := range res.CV {
			if c.WeightedF1 <= 0 || c.WeightedF1 > 1 {
				t.Errorf("grid %s: cv weighted F1 %v", grid, c.WeightedF1)
			}
		}
	}
}

func TestOfflineFlagErrors(t *testing.T) {
	for name, f := range map[string]offlineFlags{
		"nothing":    {},
		"both modes": {train: "a.csv", test: "b.csv", xTrain: "x.csv"},
		"raw half":   {xTrain: "x.csv", yTrain: "y.csv"},
		"no test":    {train: "a.csv"},
		"grid no cv": {train: "a.csv", test: "b.csv", grid: "{}"},
		"bad grid":   {train: "a.csv", test: "b.csv", cv: true, folds: 3, grid: `{"C":[1]`},
		"grid typo":  {train: "a.csv", test: "b.csv", cv: true, folds: 3, grid: `{"cs":[1]}`},
	} {
		err := runOffline(context.Background(), f, &bytes.Buffer{}, &bytes.Buffer{})
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case f.grid != "" && !strings.Contains(err.Error(), "--grid"):
			t.Errorf("%s: error %q does not name --grid", name, err)
		}
	}
}

// writeFile replaces the file whole, readable by others.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := checkWritable(filepath.Join(dir, "p.csv")); err != nil {
		t.Errorf("a new file in a writable directory: %v", err)
	}
	for _, bad := range []string{dir, filepath.Join(dir, "missing", "p.csv")} {
		// The error names the path given, not the temporary file.
		if err := checkWritable(bad); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), ".p.csv-") {
			t.Errorf("%s: err = %v, want one naming it", bad, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("checking left %d files behind", len(entries))
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "predictions.csv")
	for _, content := range []string{"first\n", "second, longer\n"} {
		if err := writeFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files left in the directory, want 1", len(entries))
	}
	missing := filepath.Join(filepath.Dir(path), "missing", "x.csv")
	if err := writeFile(missing, nil); err == nil || err.Error() != "write "+missing+": no such file or directory" {
		t.Errorf("into a missing directory: err = %v, want it to name %s alone", err, missing)
	}
	// The rename onto a directory fails, after the temporary file is made.
	dir := filepath.Dir(path)
	if err := writeFile(dir, nil); err == nil || !strings.HasPrefix(err.Error(), "write "+dir+": ") || strings.Contains(err.Error(), "."+filepath.Base(dir)+"-") {
		t.Errorf("onto a directory: err = %v, want it without the temporary file's name", err)
	}
}

// --params trains with the given parameters; a solver stopped at max_iter
// says so, and parameters out of range are a usage error.
func TestOfflineParams(t *testing.T) {
	train, _, _ := writeCatalogue(t, "train", 60)
	test, _, _ := writeCatalogue(t, "test", 30)
	dir := t.TempDir()
	write := func(name, s string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	f := offlineFlags{train: train, test: test, textCols: []string{"title,desc"}, labelCol: "label", logLevel: "info", maxReject: 1,
		params: write("short.json", `{"solver":{"c":1,"tol":1e-9,"max_iter":1,"bias":1,"calibrate":true,"seed":1}}`)}
	var stdout, stderr bytes.Buffer
	if err := runOffline(context.Background(), f, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped at max_iter") {
		t.Errorf("no warning that the solver stopped at max_iter: %q", stderr.String())
	}
	f.params = write("bad.json", `{"solver":{"c":-1}}`)
	err := runOffline(context.Background(), f, &stdout, &stderr)
	var usage usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "regularisation C -1") {
		t.Errorf("C -1: %v", err)
	}
}

// readModel reads and decodes the model file at path.
func readModel(t *testing.T, path string) *model.Model {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The bar shows the label it is given, and a shorter line blanks what the
// longer one before it leaves.
func TestProgressBarRelabel(t *testing.T) {
	var buf bytes.Buffer
	b := &progressBar{w: &buf, label: "features", on: true}
	b.Update(20, 100)
	b.Relabel("train")
	b.Update(45, 100)
	b.Done()
	first := "features [######........................] 20/100"
	second := "train [#############.................] 45/100"
	want := "\r" + first + "\r" + second + strings.Repeat(" ", len(first)-len(second)) + "\n"
	if got := buf.String(); got != want {
		t.Errorf("drew %q, want %q", got, want)
	}
}

// A run's progress is drawn as a percentage.
func TestProgressBarPercent(t *testing.T) {
	var buf bytes.Buffer
	b := &progressBar{w: &buf, label: "predict", on: true}
	b.Percent(40)
	b.Done()
	if want := "\rpredict [############..................] 40%\n"; buf.String() != want {
		t.Errorf("drew %q, want %q", buf.String(), want)
	}
}
