package classifier_test

import (
	"context"
	"math"
	"testing"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
)

// Two models scored on the same rows: the counts of rows only one gets
// right agree with their accuracies, and a label neither knows counts as
// a mistake for both, every time.
func TestCompare(t *testing.T) {
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
	// A label neither model knows, twice.
	test := append(servingtest.Examples(),
		dataset.Example{ID: "x", Title: "Tondeuse à gazon", Label: "2585"},
		dataset.Example{ID: "y", Title: "Taille-haie", Label: "2585"})
	var done []int
	scores, pairs, err := classifier.Compare(context.Background(), []*model.Model{full, weak}, test, func(n int) { done = append(done, n) })
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 2 || len(pairs) != 1 || len(done) != 2 || done[1] != 2 {
		t.Fatalf("%d scores, pairs %+v, progress %v", len(scores), pairs, done)
	}
	n := float64(len(test))
	for i, s := range scores {
		if s.UnknownLabels != 2 || s.Report.Accuracy > (n-2)/n+1e-9 {
			t.Errorf("model %d: %d unknown labels, accuracy %v; want the unknown label counted as a mistake", i, s.UnknownLabels, s.Report.Accuracy)
		}
		// The same figures as Evaluate's.
		r, err := classifier.Evaluate([]*model.Model{full, weak}[i], test)
		if err != nil || r.WeightedF1 != s.Report.WeightedF1 {
			t.Errorf("model %d: weighted F1 %v, Evaluate says %v (%v)", i, s.Report.WeightedF1, r.WeightedF1, err)
		}
	}
	pr := pairs[0]
	if pr.A != 0 || pr.B != 1 {
		t.Errorf("pair %+v", pr)
	}
	if diff := float64(pr.OnlyARight-pr.OnlyBRight) / n; math.Abs(diff-(scores[0].Report.Accuracy-scores[1].Report.Accuracy)) > 1e-9 {
		t.Errorf("pair %+v disagrees with the accuracies %v and %v", pr, scores[0].Report.Accuracy, scores[1].Report.Accuracy)
	}
	if pr.OnlyARight == 0 || pr.McNemarP <= 0 || pr.McNemarP > 1 {
		t.Errorf("the model trained on every row gets no row right that the weak one misses, or p is off: %+v", pr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := classifier.Compare(ctx, []*model.Model{full}, test, nil); err == nil {
		t.Error("a canceled comparison went on")
	}
}
