package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
)

// Exact values, as scipy.stats.binomtest gives them (the first two are the
// bench splits' test rows only one model gets right).
func TestMcNemarExact(t *testing.T) {
	for _, tc := range []struct {
		b, c int
		want float64
	}{
		{3, 9, 0.14599609375},
		{18, 11, 0.26493089646101},
		{0, 0, 1},
		{5, 5, 1},
		{0, 10, 0.001953125},
		{400, 480, 0.007707305043339113},
	} {
		got := mcNemarExact(tc.b, tc.c)
		if math.Abs(got-tc.want) > 1e-4*math.Max(tc.want, 1e-3) && math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("mcNemarExact(%d, %d) = %.10g, want %.10g", tc.b, tc.c, got, tc.want)
		}
		if sym := mcNemarExact(tc.c, tc.b); sym != got {
			t.Errorf("mcNemarExact(%d, %d) = %g, but (%d, %d) = %g", tc.b, tc.c, got, tc.c, tc.b, sym)
		}
	}
}

// Two versions scored on the same rows: the counts of rows only one gets
// right agree with their accuracies, and a label neither knows counts as a
// mistake for both.
func TestEvaluateVersions(t *testing.T) {
	full, err := model.Decode(servingtest.Model(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	// A weaker one: a third of the rows.
	var few []dataset.Example
	for i, e := range servingtest.Examples() {
		if i%3 == 0 {
			few = append(few, e)
		}
	}
	p := classifier.DefaultParams()
	p.Features.HashBits, p.Features.CharMinDF = 12, 1
	weak, err := classifier.Train(context.Background(), few, p, classifier.Options{Workers: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	test := &dataset.Dataset{Examples: append(servingtest.Examples(), dataset.Example{ID: "x", Title: "Tondeuse à gazon", Label: "2585"})}
	vs := []registry.Version{{Version: 1}, {Version: 2}}
	res, err := evaluateVersions("m", vs, []*model.Model{full, weak}, test)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(test.Examples))
	if res.Rows != len(test.Examples) || len(res.Versions) != 2 || len(res.Pairs) != 1 {
		t.Fatalf("result %+v", res)
	}
	for _, s := range res.Versions {
		if s.UnknownLabels != 1 || s.Accuracy > (n-1)/n+1e-9 {
			t.Errorf("version %d: %+v; want the unknown label counted as a mistake", s.Version, s)
		}
	}
	pr := res.Pairs[0]
	if pr.A != 1 || pr.B != 2 {
		t.Errorf("pair %+v", pr)
	}
	if diff := float64(pr.OnlyARight-pr.OnlyBRight) / n; math.Abs(diff-(res.Versions[0].Accuracy-res.Versions[1].Accuracy)) > 1e-9 {
		t.Errorf("pair %+v disagrees with the accuracies %v and %v", pr, res.Versions[0].Accuracy, res.Versions[1].Accuracy)
	}
	if pr.OnlyARight == 0 {
		t.Errorf("the model trained on every row gets no row right that the weak one misses: %+v", pr)
	}
}

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
	var res evaluation
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
	res = evaluation{}
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
