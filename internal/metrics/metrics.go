// Package metrics computes classification metrics: accuracy, weighted and
// macro F1 (the challenge ranks by weighted F1), per-class precision, recall
// and F1, the confusion matrix, and the calibration of predicted
// probabilities (log-loss and expected calibration error), and McNemar's
// test of two models scored on the same rows. The definitions are
// scikit-learn's, so figures can be compared with the Python anchors.
package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Class holds the metrics of one label.
type Class struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Support is the number of true examples of the label.
	Support int `json:"support"`
}

// Report is the result of Evaluate.
type Report struct {
	// N is the number of examples evaluated.
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	// WeightedF1 is the mean of the classes' F1 weighted by support:
	// scikit-learn's f1_score(average="weighted").
	WeightedF1 float64 `json:"weighted_f1"`
	// MacroF1 is the unweighted mean of F1 over the labels that occur in
	// the true or the predicted labels, which is what scikit-learn's
	// f1_score(average="macro") does when not given a label list. Labels
	// that occur in neither are left out rather than counted as 0.
	MacroF1 float64 `json:"macro_f1"`
	// Classes has one entry per label, in the order of Labels, including
	// labels that do not occur.
	Classes []Class `json:"classes"`
	// Confusion[i][j] counts examples of true label i predicted as j. It is
	// left out for more than MaxConfusionLabels labels, whose matrix would
	// be mostly zeros and too large to store or draw: Confused lists the
	// mistakes instead.
	Confusion [][]int `json:"confusion,omitempty"`
	// Confused lists the most frequent mistakes, most frequent first, up to
	// MaxConfused of them, when Confusion is left out.
	Confused []Mistake `json:"confused,omitempty"`
	Labels   []string  `json:"labels"`
	// Calibration scores the predicted probabilities, when the caller had
	// them (Evaluate sees only labels and leaves it nil).
	Calibration *Calibration `json:"calibration,omitempty"`
}

// Evaluate compares predictions with the truth. labels names the classes;
// yTrue and yPred hold indexes into labels. Precision, recall and F1 are 0
// where their denominator is 0 (scikit-learn's zero_division=0). Empty input
// gives a report with all figures 0. It returns an error, and no report, when
// the lengths differ or an index is out of range.
func Evaluate(labels []string, yTrue, yPred []int) (Report, error) {
	if len(yTrue) != len(yPred) {
		return Report{}, fmt.Errorf("metrics: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	k := len(labels)
	r := Report{N: len(yTrue), Labels: append([]string(nil), labels...)}
	dense := k <= MaxConfusionLabels
	if dense {
		r.Confusion = make([][]int, k)
		cells := make([]int, k*k) // one allocation for the whole matrix
		for i := range r.Confusion {
			r.Confusion[i] = cells[i*k : (i+1)*k : (i+1)*k]
		}
	}
	mistakes := make(map[[2]int]int)
	tps, support, predicted := make([]int, k), make([]int, k), make([]int, k)
	correct := 0
	for n, t := range yTrue {
		p := yPred[n]
		if t < 0 || t >= k || p < 0 || p >= k {
			return Report{}, fmt.Errorf("metrics: example %d: label index true %d, predicted %d, want 0..%d", n, t, p, k-1)
		}
		support[t]++
		predicted[p]++
		switch {
		case dense:
			r.Confusion[t][p]++
		case t != p:
			mistakes[[2]int{t, p}]++
		}
		if t == p {
			tps[t]++
			correct++
		}
	}
	if r.N > 0 {
		r.Accuracy = float64(correct) / float64(r.N)
	}
	if !dense {
		r.Confused = topMistakes(labels, mistakes)
	}
	r.Classes = make([]Class, k)
	var weighted, macro float64
	present := 0
	for i, l := range labels {
		tp, support := tps[i], support[i]
		fp, fn := predicted[i]-tp, support-tp
		c := Class{Label: l, Support: support,
			Precision: ratio(tp, tp+fp),
			Recall:    ratio(tp, tp+fn),
			// 2tp/(2tp+fp+fn) equals 2PR/(P+R) and, like scikit-learn,
			// is 0 rather than undefined when P or R is.
			F1: ratio(2*tp, 2*tp+fp+fn),
		}
		r.Classes[i] = c
		weighted += float64(support) * c.F1
		if support > 0 || predicted[i] > 0 {
			macro += c.F1
			present++
		}
	}
	if r.N > 0 {
		r.WeightedF1 = weighted / float64(r.N)
	}
	if present > 0 {
		r.MacroF1 = macro / float64(present)
	}
	return r, nil
}

// MaxConfusionLabels is the most labels a report keeps the confusion
// matrix for (10,000 cells); MaxConfused bounds the mistakes it lists
// instead.
const (
	MaxConfusionLabels = 100
	MaxConfused        = 1000
)

// Mistake counts the examples of one true label predicted as another.
type Mistake struct {
	True      string `json:"true"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
}

// topMistakes returns the most frequent of the mistakes counted by label
// index pair, most frequent first and then in label order, so that the
// report does not depend on map order.
func topMistakes(labels []string, counts map[[2]int]int) []Mistake {
	pairs := make([][2]int, 0, len(counts))
	for p := range counts {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b [2]int) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	out := make([]Mistake, 0, min(len(pairs), MaxConfused))
	for _, p := range pairs[:min(len(pairs), MaxConfused)] {
		out = append(out, Mistake{True: labels[p[0]], Predicted: labels[p[1]], Count: counts[p]})
	}
	return out
}

// EvaluateStrings is Evaluate for string labels. The label set is labels
// when given, else the distinct labels of yTrue and yPred in order of first
// appearance (yTrue first). A label outside a given set is an error.
func EvaluateStrings(labels, yTrue, yPred []string) (Report, error) {
	if len(yTrue) != len(yPred) {
		return Report{}, fmt.Errorf("metrics: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	index := make(map[string]int)
	for _, l := range labels {
		if _, ok := index[l]; !ok {
			index[l] = len(index)
		}
	}
	if len(index) != len(labels) {
		return Report{}, fmt.Errorf("metrics: duplicate label in label set")
	}
	fixed := len(labels) > 0
	toIndex := func(s []string) ([]int, error) {
		out := make([]int, len(s))
		for n, l := range s {
			i, ok := index[l]
			if !ok {
				if fixed {
					return nil, fmt.Errorf("metrics: example %d: label %q not in the label set", n, l)
				}
				i = len(index)
				index[l] = i
				labels = append(labels, l)
			}
			out[n] = i
		}
		return out, nil
	}
	t, err := toIndex(yTrue)
	if err != nil {
		return Report{}, err
	}
	p, err := toIndex(yPred)
	if err != nil {
		return Report{}, err
	}
	return Evaluate(labels, t, p)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// String formats the report as a table like scikit-learn's
// classification_report, for the command line.
func (r Report) String() string {
	w := len("weighted avg")
	for _, l := range r.Labels {
		w = max(w, len(l))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s %9s %9s %9s %9s\n", w, "", "precision", "recall", "f1", "support")
	for _, c := range r.Classes {
		fmt.Fprintf(&b, "%*s %9.4f %9.4f %9.4f %9d\n", w, c.Label, c.Precision, c.Recall, c.F1, c.Support)
	}
	fmt.Fprintf(&b, "\n%*s %9s %9s %9.4f %9d\n", w, "accuracy", "", "", r.Accuracy, r.N)
	fmt.Fprintf(&b, "%*s %9s %9s %9.4f %9d\n", w, "macro avg", "", "", r.MacroF1, r.N)
	fmt.Fprintf(&b, "%*s %9s %9s %9.4f %9d\n", w, "weighted avg", "", "", r.WeightedF1, r.N)
	return b.String()
}

// ConfusionString formats the confusion matrix with true labels as rows and
// predicted labels as columns.
func (r Report) ConfusionString() string {
	w, w0 := 1, len("true\\pred")
	for _, l := range r.Labels {
		w, w0 = max(w, len(l)), max(w0, len(l))
	}
	for _, row := range r.Confusion {
		for _, c := range row {
			w = max(w, len(fmt.Sprint(c)))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s", w0, "true\\pred")
	for _, l := range r.Labels {
		fmt.Fprintf(&b, " %*s", w, l)
	}
	b.WriteByte('\n')
	for i, row := range r.Confusion {
		fmt.Fprintf(&b, "%*s", w0, r.Labels[i])
		for _, c := range row {
			fmt.Fprintf(&b, " %*d", w, c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
