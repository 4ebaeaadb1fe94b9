package model_test

import (
	"math"
	"slices"
	"testing"

	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
)

// The contributions of a listing's words add up to its label's logit less
// the intercept, less the mean of the same over the labels; the words that
// name the category weigh most, and a label the listing is not gets them
// against it.
func TestExplain(t *testing.T) {
	m, err := model.Decode(servingtest.Model(t, "explain"))
	if err != nil {
		t.Fatal(err)
	}
	title, body := "Pompe pour piscine hors sol", "Filtration de l'eau de la piscine"
	p := m.Predict(title, body, 1)
	best := slices.IndexFunc(m.Labels, func(l model.Label) bool { return l.Code == p.Best.Code })
	if p.Best.Code != "2583" {
		t.Fatalf("predicted %s, want the pool category 2583", p.Best.Code)
	}
	all := m.Explain(title, body, p.Best.Code, 1000)
	var sum float64
	for i, c := range all {
		sum += c.Weight
		if i > 0 && math.Abs(c.Weight) > math.Abs(all[i-1].Weight) {
			t.Errorf("not largest first: %v", all)
		}
	}
	scores := m.Linear.Scores(m.Vectorizer.Vector(features.Document{Title: title, Body: body}), nil)
	var mean float64
	for c, s := range scores {
		mean += m.Linear.LogitScale(c) * (s - float64(m.Linear.B[c]))
	}
	mean /= float64(len(scores))
	want := m.Linear.LogitScale(best)*(scores[best]-float64(m.Linear.B[best])) - mean
	if math.Abs(sum-want) > 1e-4*math.Max(1, math.Abs(want)) {
		t.Errorf("contributions add up to %v, the logit less the intercept, less their mean, is %v", sum, want)
	}
	top := m.Explain(title, body, p.Best.Code, 3)
	if len(top) != 3 || !slices.Equal(top, all[:3]) {
		t.Fatalf("top 3 %v, all %v", top, all)
	}
	if top[0].Text != "piscine" || top[0].Weight <= 0 {
		t.Errorf("top contribution %+v, want piscine for the pool category", top[0])
	}
	for _, c := range m.Explain(title, body, "2705", 1000) {
		if c.Text == "piscine" && c.Weight >= 0 {
			t.Errorf("piscine speaks for books: %+v", c)
		}
	}
	if got := m.Explain(title, body, "9999", 3); got != nil {
		t.Errorf("an unknown label: %v", got)
	}
	if got := m.Explain("", "", p.Best.Code, 3); len(got) != 0 {
		t.Errorf("an empty listing: %v", got)
	}
}

// With a scale per class, each column counts in each class's own logit
// units: a word whose columns weigh the same in every class's logit says
// nothing, and the parts still add up.
func TestExplainWithPerClassScales(t *testing.T) {
	m, err := model.Decode(servingtest.Model(t, "explain"))
	if err != nil {
		t.Fatal(err)
	}
	lm := m.Linear
	lm.Scale, lm.Offset = make([]float64, lm.Classes), make([]float64, lm.Classes)
	for c := range lm.Scale {
		lm.Scale[c], lm.Offset[c] = 0.5+float64(c)/4, float64(c%3)
	}
	title, body := "Pompe pour piscine hors sol", "Filtration de l'eau de la piscine"
	doc := features.Document{Title: title, Body: body}
	for _, term := range m.Vectorizer.Terms(doc) {
		if term.Text == "piscine" && term.Col >= 0 {
			for c := range lm.Classes {
				lm.W[term.Col*lm.Classes+c] = float32(0.7 / lm.Scale[c])
			}
		}
	}
	label := 1
	all := m.Explain(title, body, m.Labels[label].Code, 1000)
	var sum float64
	for _, c := range all {
		sum += c.Weight
		if c.Text == "piscine" && math.Abs(c.Weight) > 1e-5 {
			t.Errorf("piscine weighs %v, though it weighs the same in every class's logit", c.Weight)
		}
	}
	scores := lm.Scores(m.Vectorizer.Vector(doc), nil)
	var mean float64
	for c, s := range scores {
		mean += lm.Scale[c] * (s - float64(lm.B[c]))
	}
	mean /= float64(lm.Classes)
	want := lm.Scale[label]*(scores[label]-float64(lm.B[label])) - mean
	if math.Abs(sum-want) > 1e-4*math.Max(1, math.Abs(want)) {
		t.Errorf("contributions add up to %v, want %v", sum, want)
	}
}
