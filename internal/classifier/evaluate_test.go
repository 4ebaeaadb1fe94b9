package classifier

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/metrics"
)

func TestEvaluateCountsUnknownLabelsAsErrors(t *testing.T) {
	var train []dataset.Example
	for i, w := range []string{"piscine", "pompe", "chlore", "livre", "roman", "poche"} {
		label := "2583"
		if i >= 3 {
			label = "2705"
		}
		for j := range 5 {
			train = append(train, dataset.Example{ID: string(rune('a'+i)) + string(rune('a'+j)), Title: w + " " + w, Label: label})
		}
	}
	m, err := Train(context.Background(), train, DefaultParams(), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	test := []dataset.Example{
		{ID: "1", Title: "piscine hors sol", Label: "2583"},
		{ID: "2", Title: "roman policier", Label: "2705"},
		{ID: "3", Title: "pompe", Label: "9999"}, // a label the model never saw
	}
	r, err := Evaluate(m, test)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accuracy != 2.0/3 {
		t.Errorf("accuracy %v, want 2/3", r.Accuracy)
	}
	if got := r.Labels[len(r.Labels)-1]; got != "9999" {
		t.Errorf("last label %q, want the unseen 9999", got)
	}
	if len(r.Confusion) != 3 || r.Confusion[2][0] != 1 {
		t.Errorf("confusion %v: want the 9999 row predicted as 2583", r.Confusion)
	}
	// The unseen label has probability 0, clipped to 1e-15 in the
	// log-loss, so it dominates the mean: at least −ln(1e-15)/3.
	if c := r.Calibration; c == nil || c.LogLoss < -math.Log(1e-15)/3 || c.ECE <= 0 || c.ECE > 1 {
		t.Errorf("calibration %+v: want the unseen label's loss counted", c)
	}
}

// Unknown labels past maxUnknownLabels share one row, so a test file with a
// label per row does not make the confusion matrix quadratic in its size.
func TestEvaluateBoundsUnknownLabels(t *testing.T) {
	var train []dataset.Example
	for i, w := range []string{"piscine", "livre"} {
		for j := range 5 {
			train = append(train, dataset.Example{ID: w + string(rune('a'+j)), Title: w, Label: []string{"2583", "2705"}[i]})
		}
	}
	m, err := Train(context.Background(), train, DefaultParams(), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var test []dataset.Example
	for i := range 3 * maxUnknownLabels {
		test = append(test, dataset.Example{ID: fmt.Sprint(i), Title: "piscine", Label: fmt.Sprint("id-", i)})
	}
	r, err := Evaluate(m, test)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + maxUnknownLabels + 1; len(r.Labels) != want || r.Labels[want-1] != OtherLabels {
		t.Fatalf("%d labels (last %q); want %d ending with %q", len(r.Labels), r.Labels[len(r.Labels)-1], want, OtherLabels)
	}
	// Past metrics.MaxConfusionLabels, the report lists the mistakes.
	if want := (metrics.Mistake{True: OtherLabels, Predicted: "2583", Count: 2 * maxUnknownLabels}); r.Confusion != nil || len(r.Confused) == 0 || r.Confused[0] != want {
		t.Errorf("confusion of %d rows, mistakes %v; want none and first %v", len(r.Confusion), r.Confused[:min(len(r.Confused), 2)], want)
	}
	if r.Accuracy != 0 {
		t.Errorf("accuracy %v, want 0", r.Accuracy)
	}
}
