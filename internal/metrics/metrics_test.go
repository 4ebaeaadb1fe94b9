package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) < eps }

func checkClass(t *testing.T, got Class, want Class) {
	t.Helper()
	if got.Label != want.Label || got.Support != want.Support ||
		!near(got.Precision, want.Precision) || !near(got.Recall, want.Recall) || !near(got.F1, want.F1) {
		t.Errorf("class %+v, want %+v", got, want)
	}
}

// The worked example. Labels 10, 40, 50, 60; 60 never occurs.
//
//	true: 0 0 0 0 1 1 2 2 2 2
//	pred: 0 0 1 2 1 1 2 2 0 0
//
// Confusion (rows true, columns predicted):
//
//	10: 2 1 1 0    support 4
//	40: 0 2 0 0    support 2
//	50: 2 0 2 0    support 4
//	60: 0 0 0 0    support 0
//	col sums: 4 3 3 0
//
// 10: tp 2, fp 2, fn 2 -> P 2/4 = 0.5, R 2/4 = 0.5, F1 4/8 = 0.5
// 40: tp 2, fp 1, fn 0 -> P 2/3, R 2/2 = 1, F1 4/5 = 0.8
// 50: tp 2, fp 1, fn 2 -> P 2/3, R 2/4 = 0.5, F1 4/7
// 60: nothing -> all 0, and left out of the macro average
// accuracy 6/10 = 0.6
// weighted F1 (4*0.5 + 2*0.8 + 4*4/7)/10 = (3.6 + 16/7)/10 = 0.58857142857...
// macro F1 (0.5 + 0.8 + 4/7)/3 = 0.62380952380...
func TestEvaluateWorkedExample(t *testing.T) {
	labels := []string{"10", "40", "50", "60"}
	yTrue := []int{0, 0, 0, 0, 1, 1, 2, 2, 2, 2}
	yPred := []int{0, 0, 1, 2, 1, 1, 2, 2, 0, 0}
	r, err := Evaluate(labels, yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 10 || !near(r.Accuracy, 0.6) {
		t.Errorf("N %d accuracy %v, want 10 and 0.6", r.N, r.Accuracy)
	}
	if want := (3.6 + 16.0/7) / 10; !near(r.WeightedF1, want) {
		t.Errorf("weighted F1 %v, want %v", r.WeightedF1, want)
	}
	if want := (0.5 + 0.8 + 4.0/7) / 3; !near(r.MacroF1, want) {
		t.Errorf("macro F1 %v, want %v", r.MacroF1, want)
	}
	wantClasses := []Class{
		{Label: "10", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 4},
		{Label: "40", Precision: 2.0 / 3, Recall: 1, F1: 0.8, Support: 2},
		{Label: "50", Precision: 2.0 / 3, Recall: 0.5, F1: 4.0 / 7, Support: 4},
		{Label: "60"},
	}
	if len(r.Classes) != 4 {
		t.Fatalf("classes %+v", r.Classes)
	}
	for i, c := range wantClasses {
		checkClass(t, r.Classes[i], c)
	}
	wantConf := [][]int{{2, 1, 1, 0}, {0, 2, 0, 0}, {2, 0, 2, 0}, {0, 0, 0, 0}}
	for i := range wantConf {
		if !slices.Equal(r.Confusion[i], wantConf[i]) {
			t.Errorf("confusion row %d = %v, want %v", i, r.Confusion[i], wantConf[i])
		}
	}
	if !slices.Equal(r.Labels, labels) {
		t.Errorf("labels %v", r.Labels)
	}
}

// A class that occurs but is never predicted:
//
//	true: a b b    pred: a a a
//	a: tp 1, fp 2, fn 0 -> P 1/3, R 1, F1 2/4 = 0.5
//	b: tp 0, fp 0, fn 2 -> P 0 (0/0), R 0, F1 0
//	accuracy 1/3, weighted (1*0.5 + 2*0)/3 = 1/6, macro (0.5+0)/2 = 0.25
func TestEvaluateNeverPredicted(t *testing.T) {
	r, err := Evaluate([]string{"a", "b"}, []int{0, 1, 1}, []int{0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	checkClass(t, r.Classes[0], Class{Label: "a", Precision: 1.0 / 3, Recall: 1, F1: 0.5, Support: 1})
	checkClass(t, r.Classes[1], Class{Label: "b", Support: 2})
	if !near(r.Accuracy, 1.0/3) || !near(r.WeightedF1, 1.0/6) || !near(r.MacroF1, 0.25) {
		t.Errorf("accuracy %v weighted %v macro %v, want 1/3, 1/6, 0.25", r.Accuracy, r.WeightedF1, r.MacroF1)
	}
}

// A class predicted but never true counts in the macro average (as in
// scikit-learn), with F1 0, and not in the weighted one (support 0):
//
//	true: a a    pred: a c
//	a: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3
//	c: tp 0, fp 1, fn 0 -> F1 0
//	b: absent from both -> left out of the macro average
//	weighted 2*(2/3)/2 = 2/3, macro (2/3 + 0)/2 = 1/3
func TestEvaluatePredictedNeverTrue(t *testing.T) {
	r, err := Evaluate([]string{"a", "b", "c"}, []int{0, 0}, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	checkClass(t, r.Classes[0], Class{Label: "a", Precision: 1, Recall: 0.5, F1: 2.0 / 3, Support: 2})
	checkClass(t, r.Classes[2], Class{Label: "c"})
	if !near(r.WeightedF1, 2.0/3) || !near(r.MacroF1, 1.0/3) || !near(r.Accuracy, 0.5) {
		t.Errorf("weighted %v macro %v accuracy %v", r.WeightedF1, r.MacroF1, r.Accuracy)
	}
}

func TestEvaluatePerfect(t *testing.T) {
	y := []int{2, 0, 1, 1, 0, 2, 2}
	r, err := Evaluate([]string{"x", "y", "z"}, y, y)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accuracy != 1 || r.WeightedF1 != 1 || r.MacroF1 != 1 {
		t.Errorf("perfect predictions: %+v", r)
	}
	for _, c := range r.Classes {
		if c.Precision != 1 || c.Recall != 1 || c.F1 != 1 {
			t.Errorf("class %+v", c)
		}
	}
}

func TestEvaluateEmpty(t *testing.T) {
	r, err := Evaluate([]string{"a", "b"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 0 || r.Accuracy != 0 || r.WeightedF1 != 0 || r.MacroF1 != 0 || len(r.Classes) != 2 || len(r.Confusion) != 2 {
		t.Errorf("empty input: %+v", r)
	}
	if r, err := Evaluate(nil, nil, nil); err != nil || r.N != 0 {
		t.Errorf("no labels: %+v %v", r, err)
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		name         string
		labels       []string
		yTrue, yPred []int
		msg          string
	}{
		{"lengths", []string{"a"}, []int{0, 0}, []int{0}, "2 true labels but 1 predictions"},
		{"true out of range", []string{"a", "b"}, []int{0, 2}, []int{0, 1}, "example 1: label index true 2, predicted 1, want 0..1"},
		{"negative prediction", []string{"a", "b"}, []int{0}, []int{-1}, "example 0"},
		{"no labels", nil, []int{0}, []int{0}, "want 0..-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.labels, tt.yTrue, tt.yPred)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestEvaluateStrings(t *testing.T) {
	r, err := EvaluateStrings(nil, []string{"a", "b", "b"}, []string{"a", "a", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Labels, []string{"a", "b", "c"}) || r.Confusion[1][0] != 1 || r.Confusion[1][2] != 1 {
		t.Errorf("report %+v", r)
	}
	if _, err := EvaluateStrings([]string{"a", "b"}, []string{"a"}, []string{"z"}); err == nil || !strings.Contains(err.Error(), `label "z" not in the label set`) {
		t.Errorf("unknown label: err = %v", err)
	}
	if _, err := EvaluateStrings([]string{"a", "a"}, nil, nil); err == nil {
		t.Error("duplicate label set accepted")
	}
}

func TestReportJSON(t *testing.T) {
	r, err := Evaluate([]string{"10", "40"}, []int{0, 1}, []int{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"n":2`, `"accuracy":0.5`, `"weighted_f1":`, `"macro_f1":`, `"classes":[{"label":"10","precision":0.5,"recall":1,"f1":`, `"support":1`, `"confusion":[[1,0],[1,0]]`, `"labels":["10","40"]`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.WeightedF1 != r.WeightedF1 || back.Classes[1].Support != 1 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestStrings(t *testing.T) {
	r, err := Evaluate([]string{"10", "2583"}, []int{0, 1, 1}, []int{0, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	s := r.String()
	for _, want := range []string{"precision", "        10    0.5000    1.0000    0.6667         1", "weighted avg", "accuracy"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() =\n%s\nlacks %q", s, want)
		}
	}
	c := r.ConfusionString()
	want := "true\\pred   10 2583\n       10    1    0\n     2583    1    1\n"
	if c != want {
		t.Errorf("ConfusionString() =\n%q\nwant\n%q", c, want)
	}
}

// Past MaxConfusionLabels the report lists the mistakes, most frequent
// first, instead of a matrix of mostly zeros; the other figures are those
// the matrix would give.
func TestManyLabelsListMistakes(t *testing.T) {
	labels := make([]string, MaxConfusionLabels+1)
	for i := range labels {
		labels[i] = fmt.Sprint("c", i)
	}
	yTrue, yPred := []int{0, 0, 1, 2, 2, 2}, []int{0, 1, 1, 2, 0, 0}
	r, err := Evaluate(labels, yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mistake{{True: "c2", Predicted: "c0", Count: 2}, {True: "c0", Predicted: "c1", Count: 1}}
	if r.Confusion != nil || !slices.Equal(r.Confused, want) {
		t.Errorf("confusion %v, mistakes %v; want none and %v", r.Confusion, r.Confused, want)
	}
	small, err := Evaluate(labels[:3], yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Classes[:3], small.Classes) || r.Accuracy != small.Accuracy || r.WeightedF1 != small.WeightedF1 || r.MacroF1 != small.MacroF1 {
		t.Errorf("figures differ from the matrix's: %+v against %+v", r, small)
	}
	if c := r.Classes[0]; c.Precision != 1.0/3 || c.Recall != 0.5 || c.F1 != 0.4 || c.Support != 2 {
		t.Errorf("class c0: %+v, want precision 1/3, recall 1/2, F1 0.4, support 2", c)
	}

	// A mistake per pair, and more pairs than are listed.
	yTrue, yPred = nil, nil
	for i := range MaxConfusionLabels {
		for j := range MaxConfusionLabels {
			if i != j {
				yTrue, yPred = append(yTrue, i), append(yPred, j)
			}
		}
	}
	yTrue, yPred = append(yTrue, 5), append(yPred, 7) // one pair twice
	r, err = Evaluate(labels, yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Confused) != MaxConfused || r.Confused[0] != (Mistake{True: "c5", Predicted: "c7", Count: 2}) || r.Confused[1] != (Mistake{True: "c0", Predicted: "c1", Count: 1}) {
		t.Errorf("%d mistakes listed, first %v; want %d, led by c5 → c7 twice then c0 → c1", len(r.Confused), r.Confused[:2], MaxConfused)
	}
}
