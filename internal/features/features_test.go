package features

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/prodcat/prodcat/internal/wire"
)

var docs = []Document{
	{Title: "Chaussures de sport", Body: "<p>Baskets <b>légères</b> pour courir</p>"},
	{Title: "Chaussures de ville", Body: "Cuir noir, semelle souple"},
	{Title: "Livre de cuisine", Body: ""},
	{Title: "Livre pour enfants", Body: "Contes illustrés &amp; comptines"},
}

func smallConfig() Config {
	c := DefaultConfig()
	c.HashBits = 12
	return c
}

func fit(t *testing.T, c Config) *Vectorizer {
	t.Helper()
	v, err := Fit(context.Background(), docs, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCharKeysCountPaddedNgrams(t *testing.T) {
	// " ab " has 3 bigrams, 2 trigrams and 1 four-gram; "é" counts as one
	// rune, so " é " has 2 bigrams and 1 trigram.
	if got := len(appendCharKeys(nil, []byte("ab"), 2, 5, 0, 40)); got != 6 {
		t.Errorf("ab: %d keys, want 6", got)
	}
	if got := len(appendCharKeys(nil, []byte("é"), 2, 5, 0, 40)); got != 3 {
		t.Errorf("é: %d keys, want 3", got)
	}
	if got := len(appendWordKeys(nil, []byte("a b c"), 2, 0, 40)); got != 5 {
		t.Errorf("a b c: %d word keys, want 3 unigrams + 2 bigrams", got)
	}
}

func TestTransformBlocksAreNormalised(t *testing.T) {
	c := smallConfig()
	v := fit(t, c)
	x, err := v.Transform(context.Background(), docs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if x.Rows() != len(docs) || x.Cols != v.NumFeatures() || x.Validate() != nil {
		t.Fatalf("matrix %d×%d, %v", x.Rows(), x.Cols, x.Validate())
	}
	// Each block has norm = its weight, so the row norm² is the sum of the
	// squared weights of the blocks present.
	want := 1 + c.CharWeight*c.CharWeight + c.TitleWeight*c.TitleWeight
	for i := range x.Rows() {
		var sq float64
		for _, val := range x.Row(i).Val {
			sq += float64(val) * float64(val)
		}
		if math.Abs(sq-want) > 1e-4 {
			t.Errorf("row %d: norm² = %v, want %v", i, sq, want)
		}
	}
}

func TestMinDFDropsRareCharNgrams(t *testing.T) {
	c := smallConfig()
	c.CharMinDF = 2
	strict := fit(t, c)
	c.CharMinDF = 1
	loose := fit(t, c)
	if s, l := len(strict.blocks[blockChar].buckets), len(loose.blocks[blockChar].buckets); s == 0 || s >= l {
		t.Errorf("char columns: min_df 2 gives %d, min_df 1 gives %d", s, l)
	}
}

func TestTransformIgnoresUnseenAndIsWorkerIndependent(t *testing.T) {
	v := fit(t, smallConfig())
	if vec := v.Vector(Document{Title: "zzzq xxwv"}); len(vec.Idx) > 4 {
		t.Errorf("unseen words produced %d features", len(vec.Idx))
	}
	many := make([]Document, 0, 2000)
	for i := range 2000 {
		many = append(many, docs[i%len(docs)])
	}
	a, err := v.Transform(context.Background(), many, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Transform(context.Background(), many, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("transform depends on the number of workers")
	}
	if !reflect.DeepEqual(a.Row(1999), v.Vector(many[1999])) {
		t.Error("Transform and Vector disagree")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	v := fit(t, smallConfig())
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Vectorizer
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Config() != v.Config() || got.NumFeatures() != v.NumFeatures() {
		t.Fatalf("config/features differ: %+v %d", got.Config(), got.NumFeatures())
	}
	for _, d := range docs {
		if !reflect.DeepEqual(got.Vector(d), v.Vector(d)) {
			t.Errorf("vector of %q differs after round trip", d.Title)
		}
	}
	for n := 0; n < len(b); n += 7 {
		if err := new(Vectorizer).UnmarshalBinary(b[:n]); err == nil {
			t.Errorf("truncated at %d: no error", n)
		}
	}
}

func TestFitErrors(t *testing.T) {
	if _, err := Fit(context.Background(), nil, DefaultConfig(), 1); err == nil {
		t.Error("no documents: no error")
	}
	// Punctuation and markup alone give no feature, which would make a
	// model answering by its intercepts alone.
	empty := []Document{{Title: "---"}, {Title: "<br>", Body: "&nbsp; !!"}}
	if _, err := Fit(context.Background(), empty, DefaultConfig(), 1); !errors.Is(err, ErrNoFeatures) {
		t.Errorf("documents without text: %v", err)
	}
	bad := DefaultConfig()
	bad.CharMin = 6
	if _, err := Fit(context.Background(), docs, bad, 1); err == nil {
		t.Error("char min > max: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, docs, DefaultConfig(), 1); err == nil {
		t.Error("cancelled: no error")
	}
}

// Weights that would overflow float32 features are refused up front: they
// used to train a model whose every probability was NaN.
func TestValidateBoundsBlockWeights(t *testing.T) {
	for _, w := range []float64{-1, math.NaN(), math.Inf(1), 1e39, maxBlockWeight + 1} {
		c := DefaultConfig()
		c.TitleWeight = w
		if c.Validate() == nil {
			t.Errorf("title weight %v accepted", w)
		}
		c = DefaultConfig()
		c.CharWeight = w
		if c.Validate() == nil {
			t.Errorf("char weight %v accepted", w)
		}
	}
}

// A vectorizer with a non-finite idf or block weight does not load.
func TestUnmarshalRejectsNonFinite(t *testing.T) {
	for name, spoil := range map[string]func(v *Vectorizer){
		"NaN idf":         func(v *Vectorizer) { v.blocks[blockWord].idf[0] = float32(math.NaN()) },
		"zero idf":        func(v *Vectorizer) { v.blocks[blockChar].idf[0] = 0 },
		"infinite weight": func(v *Vectorizer) { v.blocks[blockChar].weight = float32(math.Inf(1)) },
	} {
		v := fit(t, smallConfig())
		spoil(v)
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := new(Vectorizer).UnmarshalBinary(b); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestAppendVectorDoesNotAllocate(t *testing.T) {
	v := fit(t, smallConfig())
	s := v.NewScratch()
	d := Document{Title: "Chaussures de sport légères"}
	v.AppendVector(s, d)
	if n := testing.AllocsPerRun(100, func() { v.AppendVector(s, d) }); n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

// Without bodies the title block would repeat the word block, so Fit folds
// it into the word block: same inner products, fewer columns.
func TestTitleBlockFoldsWhenNoDocumentHasABody(t *testing.T) {
	c := smallConfig()
	titles := make([]Document, len(docs))
	for i, d := range docs {
		titles[i] = Document{Title: d.Title}
	}
	folded, err := Fit(context.Background(), titles, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if folded.blocks[blockTitle].enabled() {
		t.Error("title block kept although no document has a body")
	}
	x, err := folded.Transform(context.Background(), titles, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := 1 + c.CharWeight*c.CharWeight + c.TitleWeight*c.TitleWeight
	for i := range x.Rows() {
		var sq float64
		for _, v := range x.Row(i).Val {
			sq += float64(v) * float64(v)
		}
		if math.Abs(sq-want) > 1e-5 {
			t.Errorf("row %d: norm² %v, want %v", i, sq, want)
		}
	}
	if !fit(t, c).blocks[blockTitle].enabled() {
		t.Error("title block dropped although documents have bodies")
	}
}

// With word unigrams only and no character block, reordering a title's
// words leaves its vector unchanged unless TitleEnds marks the end words.
func TestTitleEndsMarkFirstAndLastWords(t *testing.T) {
	pair := []Document{{Title: "chaussures sport homme"}, {Title: "homme sport chaussures"}}
	for _, ends := range []bool{false, true} {
		c := smallConfig()
		c.WordNgrams, c.CharMax, c.TitleWeight, c.TitleEnds = 1, 0, 0, ends
		v, err := Fit(context.Background(), pair, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		a, b := v.Vector(pair[0]), v.Vector(pair[1])
		if same := reflect.DeepEqual(a, b); same == ends {
			t.Errorf("TitleEnds %v: vectors equal %v (%v, %v)", ends, same, a, b)
		}
		if want := 3 + 2*btoi(ends); len(a.Idx) != want {
			t.Errorf("TitleEnds %v: %d features, want %d", ends, len(a.Idx), want)
		}
	}
	// A one-word title is both first and last; an empty one is neither.
	if got := appendEndKeys(nil, []byte("livre"), 1, 44); len(got) != 2 || got[0] == got[1] {
		t.Errorf("one word: keys %v, want two distinct", got)
	}
	if got := appendEndKeys(nil, nil, 1, 44); len(got) != 0 {
		t.Errorf("empty title: keys %v", got)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Vectorizers encoded before TitleEnds existed (version 1) still decode,
// with the feature off.
func TestUnmarshalVersion1(t *testing.T) {
	c := smallConfig()
	c.TitleEnds = false
	v := fit(t, c)
	w := wire.NewWriter(0)
	w.Raw([]byte(magic))
	w.Int(1)
	v.Encode(w)
	b := w.Bytes()
	// Version 1 has no TitleEnds byte after the two float64 block weights,
	// which follow the six varint settings.
	at := len(magic) + 1
	for range 6 {
		_, n := binary.Uvarint(b[at:])
		at += n
	}
	at += 16
	b = append(b[:at:at], b[at+1:]...)
	var got Vectorizer
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Config() != c {
		t.Errorf("config %+v, want %+v", got.Config(), c)
	}
	for _, d := range docs {
		if !reflect.DeepEqual(got.Vector(d), v.Vector(d)) {
			t.Errorf("vector of %q differs", d.Title)
		}
	}
}

// A title or a body that normalises to nothing adds no empty word, and a
// body with no words does not count as a body.
func TestEmptyPartsAddNoFeatures(t *testing.T) {
	c := smallConfig()
	c.CharMax, c.TitleEnds = 0, false
	keys := func(d Document) []uint32 {
		s := &Scratch{}
		extract(&c, s, d, false)
		return append([]uint32(nil), s.keys[blockWord]...)
	}
	for _, tc := range []struct{ with, without Document }{
		{Document{Title: "!!!", Body: "sac cuir"}, Document{Body: "sac cuir"}},
		{Document{Title: "sac cuir", Body: "<br> --"}, Document{Title: "sac cuir"}},
	} {
		if got, want := keys(tc.with), keys(tc.without); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: word keys %v, want those of %+v: %v", tc.with, got, tc.without, want)
		}
	}
	// Titles with empty-looking bodies: the title block still folds.
	v, err := Fit(context.Background(), []Document{{Title: "sac cuir", Body: "<p></p>"}, {Title: "chaise", Body: " "}}, smallConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.blocks[blockTitle].enabled() {
		t.Error("bodies with no words kept the title block")
	}
}
