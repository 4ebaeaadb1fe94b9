package model

import (
	"cmp"
	"math"
	"slices"

	"github.com/prodcat/prodcat/internal/features"
)

// Contribution is how much a word, or a pair of words, of a listing raises
// a label's calibrated logit above the average label's: every n-gram it gives
// (the word itself, its character n-grams, its place in the title) counted
// together. A positive weight speaks for the label, a negative one against
// it. Against the average, because the probabilities depend only on how
// the logits differ: the part of a word's weight that every label gets
// alike (mostly the naive Bayes blend's log-probability of a rare word)
// says nothing.
type Contribution struct {
	Text   string  `json:"text"`
	Weight float64 `json:"weight"`
}

// Explain returns the k contributions of a listing's words to the logit
// of the label with code that weigh most, either way, largest first; none
// for a code not in Labels. An n-gram that shares its column with another
// (a hash collision) shares its part with it. The contributions of all the
// words add up to the label's logit less its intercept, less the mean of
// the same over the labels.
func (m *Model) Explain(title, body, code string, k int) []Contribution {
	label := slices.IndexFunc(m.Labels, func(l Label) bool { return l.Code == code })
	if label < 0 || k < 1 {
		return nil
	}
	doc := features.Document{Title: title, Body: body}
	terms := m.Vectorizer.Terms(doc)
	vec := m.Vectorizer.Vector(doc)
	shares := make(map[int]int, len(vec.Idx))
	for _, t := range terms {
		if t.Col >= 0 {
			shares[t.Col]++
		}
	}
	lm := m.Linear
	scales := make([]float64, lm.Classes)
	for c := range scales {
		scales[c] = lm.LogitScale(c)
	}
	// relative is each column's part of the label's logit, less its mean
	// part of every label's.
	relative := make(map[int]float64, len(vec.Idx))
	for i, col := range vec.Idx {
		j := int(col)
		if j >= lm.Features {
			continue
		}
		var mean float64
		for c, s := range scales {
			mean += s * lm.Weight(j, c)
		}
		relative[j] = float64(vec.Val[i]) * (scales[label]*lm.Weight(j, label) - mean/float64(len(scales)))
	}
	byText := map[string]float64{}
	var order []string // first sight, so that ties keep the listing's order
	for _, t := range terms {
		if t.Col < 0 || t.Col >= lm.Features {
			continue
		}
		if _, seen := byText[t.Text]; !seen {
			order = append(order, t.Text)
		}
		byText[t.Text] += relative[t.Col] / float64(shares[t.Col])
	}
	out := make([]Contribution, 0, len(order))
	for _, text := range order {
		if w := byText[text]; w != 0 {
			out = append(out, Contribution{Text: text, Weight: w})
		}
	}
	slices.SortStableFunc(out, func(a, b Contribution) int { return cmp.Compare(math.Abs(b.Weight), math.Abs(a.Weight)) })
	return out[:min(k, len(out))]
}
