package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
)

// models evaluate fetches registered versions from the bucket and scores
// them on a local CSV.
func TestModelsEvaluate(t *testing.T) {
	model, reg, store := services(t, "starter-evaluate-")
	v1 := servingtest.Publish(t, reg, store, model, servingtest.Model(t, "a"), nil)
	v2 := servingtest.Publish(t, reg, store, model, servingtest.Model(t, "b"), nil)
	var b strings.Builder
	b.WriteString("text,label\n")
	for _, e := range servingtest.Examples() {
		b.WriteString(`"` + e.Title + `",` + e.Label + "\n")
	}
	csv := filepath.Join(t.TempDir(), "test.csv")
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "models", "evaluate", "1", "2", "--csv", csv, "--text-col", "text", "--label-col", "label")
	if err != nil {
		t.Fatal(err)
	}
	var res activities.Comparison
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("printed %q: %v", out, err)
	}
	if res.Rows != 18 || len(res.Versions) != 2 || res.Versions[0].Version != v1.Version || res.Versions[1].Version != v2.Version ||
		res.Versions[0].Accuracy < 0.9 || len(res.Pairs) != 1 || res.Pairs[0].McNemarP != 1 {
		t.Errorf("result %+v; want two versions alike on 18 rows", res)
	}
	// The challenge's raw files.
	var x, y strings.Builder
	x.WriteString(",designation,description,productid,imageid\n")
	y.WriteString(",prdtypecode\n")
	for i, e := range servingtest.Examples() {
		fmt.Fprintf(&x, "%d,\"%s\",\"%s\",%d,%d\n", i, e.Title, e.Body, 100+i, 200+i)
		fmt.Fprintf(&y, "%d,%s\n", i, e.Label)
	}
	dir := t.TempDir()
	xf, yf := filepath.Join(dir, "X.csv"), filepath.Join(dir, "Y.csv")
	if err := errors.Join(os.WriteFile(xf, []byte(x.String()), 0o644), os.WriteFile(yf, []byte(y.String()), 0o644)); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "models", "evaluate", "2", "--x", xf, "--y", yf)
	if err != nil {
		t.Fatal(err)
	}
	res = activities.Comparison{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Rows != 18 || len(res.Versions) != 1 || res.Versions[0].Accuracy < 0.9 || len(res.Pairs) != 0 {
		t.Errorf("raw files: %q, %v", out, err)
	}
	if _, err := run(t, "models", "evaluate", "2", "--x", xf, "--y", yf, "--csv", csv); !errors.As(err, new(usageError)) {
		t.Errorf("raw files and a CSV: %v, want a usage error", err)
	}
	if _, err := run(t, "models", "evaluate", "1", "--csv", csv, "--text-col", "text", "--label-col", "text"); !errors.As(err, new(usageError)) {
		t.Errorf("the label column as text: %v, want a usage error", err)
	}
	// The version does not record its columns: they must be given.
	if _, err := run(t, "models", "evaluate", "1", "--csv", csv); err == nil || !strings.Contains(err.Error(), "needs --text-col and --label-col") {
		t.Errorf("no columns: %v", err)
	}
	if _, err := run(t, "models", "evaluate", "9", "--csv", csv, "--text-col", "text", "--label-col", "label"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown version: %v", err)
	}
}
