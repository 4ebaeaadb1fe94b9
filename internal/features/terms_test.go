package features

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// Terms name every n-gram Vector counts, and no other: per column, as
// many occurrences as the vector's extraction has, whatever the settings.
func TestTermsMatchTheVector(t *testing.T) {
	long := strings.Repeat("x", 100) // past the char n-grams' word limit
	inputs := append(slices.Clone(docs),
		Document{Title: "Chaussures " + long, Body: "pour courir " + long},
		Document{Title: "", Body: "Livre de cuisine"},
		Document{Title: "Livre", Body: ""},
		Document{},
	)
	for name, c := range map[string]Config{
		"default":     smallConfig(),
		"no chars":    func() Config { c := smallConfig(); c.CharMax = 0; return c }(),
		"unigrams":    func() Config { c := smallConfig(); c.WordNgrams = 1; c.TitleEnds = false; return c }(),
		"no title":    func() Config { c := smallConfig(); c.TitleWeight = 0; return c }(),
		"keep all":    func() Config { c := smallConfig(); c.CharMinDF = 1; return c }(),
		"char 1 to 8": func() Config { c := smallConfig(); c.CharMin, c.CharMax = 1, 8; return c }(),
	} {
		v := fit(t, c)
		for _, doc := range inputs {
			want := map[int]int{}
			s := v.scratch()
			extract(&v.cfg, s, doc, v.blocks[blockTitle].enabled())
			for b := range numBlocks {
				bl := &v.blocks[b]
				if !bl.enabled() {
					continue
				}
				for _, k := range s.keys[b] {
					if r := bl.rank(k); r >= 0 {
						want[bl.offset+int(r)]++
					}
				}
			}
			got := map[int]int{}
			for _, term := range v.Terms(doc) {
				if term.Text == "" {
					t.Errorf("%s: %+v: a term without text", name, doc)
				}
				if term.Col >= 0 {
					got[term.Col]++
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s: %+v: term columns %v, the vector's %v", name, doc, got, want)
			}
			// The vector holds exactly those columns.
			cols := slices.Collect(maps.Keys(want))
			slices.Sort(cols)
			vec := v.Vector(doc)
			idx := make([]int, len(vec.Idx))
			for i, j := range vec.Idx {
				idx[i] = int(j)
			}
			if !slices.Equal(idx, cols) {
				t.Errorf("%s: %+v: vector columns %v, want %v", name, doc, idx, cols)
			}
		}
	}
	// Each n-gram is credited to the text that gives it: a listing of that
	// text alone has its column.
	v := fit(t, smallConfig())
	for _, doc := range inputs {
		for _, term := range v.Terms(doc) {
			if term.Col < 0 {
				continue
			}
			if !slices.Contains(v.Vector(Document{Title: term.Text}).Idx, uint32(term.Col)) {
				t.Errorf("%+v: column %d credited to %q, which does not give it", doc, term.Col, term.Text)
			}
		}
	}
	texts := map[string]bool{}
	for _, term := range v.Terms(Document{Title: "Chaussures de sport", Body: "Baskets légères"}) {
		texts[term.Text] = true
	}
	for _, want := range []string{"chaussures", "chaussures de", "sport", "baskets", "legeres", "sport baskets"} {
		if !texts[want] {
			t.Errorf("no term %q in %v", want, texts)
		}
	}
}
