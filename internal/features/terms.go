package features

import "bytes"

// Term is one n-gram of a document, named by the text it comes from: a
// word for its unigram, its character n-grams and its place as the
// title's first or last word, or two words for a bigram. Terms let a
// model's decision be told in words.
type Term struct {
	Text string
	// Col is the n-gram's column in the vectors, or -1 when the
	// vectorizer dropped it (too rare in training).
	Col int
}

// Terms returns the n-grams of doc that Vector counts, one per
// occurrence, with their columns.
func (v *Vectorizer) Terms(doc Document) []Term {
	s := v.scratch()
	defer v.pool.Put(s)
	extract(&v.cfg, s, doc, v.blocks[blockTitle].enabled())
	shift := uint(64 - v.cfg.HashBits)
	var terms []Term
	// A word gives many n-grams: its text is made once.
	texts := make(map[string]string)
	name := func(b []byte) string {
		if s, ok := texts[string(b)]; ok {
			return s
		}
		s := string(b)
		texts[s] = s
		return s
	}
	add := func(b int, key uint32, text []byte) {
		bl := &v.blocks[b]
		if !bl.enabled() {
			return
		}
		col := -1
		if r := bl.rank(key); r >= 0 {
			col = bl.offset + int(r)
		}
		terms = append(terms, Term{Text: name(text), Col: col})
	}
	var pair []byte
	// As appendWordKeys walks a text.
	wordTerms := func(b int, t []byte) {
		seed := blockSeeds[b]
		var prev []byte
		for w := range bytes.SplitSeq(t, []byte{' '}) {
			if len(w) == 0 {
				continue // an empty text
			}
			add(b, bucket(fnv(w), seed, shift), w)
			if v.cfg.WordNgrams >= 2 && prev != nil {
				pair = append(append(append(pair[:0], prev...), ' '), w...)
				add(b, bucket(pairHash(fnv(prev), fnv(w)), seed, shift), pair)
			}
			prev = w
		}
	}
	wordTerms(blockWord, s.all)
	if v.cfg.TitleEnds && len(s.title) > 0 {
		first, last := s.title, s.title
		if i := bytes.IndexByte(s.title, ' '); i >= 0 {
			first, last = s.title[:i], s.title[bytes.LastIndexByte(s.title, ' ')+1:]
		}
		for _, k := range appendEndKeys(nil, s.title, blockSeeds[blockWord], shift) {
			add(blockWord, k, first)
			first = last // the first key is the first word's, the second the last's
		}
	}
	if v.cfg.uses(blockChar) {
		for w := range bytes.SplitSeq(s.all, []byte{' '}) {
			// A word's character n-grams do not depend on its neighbours.
			for _, k := range appendCharKeys(nil, w, v.cfg.CharMin, v.cfg.CharMax, blockSeeds[blockChar], shift) {
				add(blockChar, k, w)
			}
		}
	}
	if v.blocks[blockTitle].enabled() && v.cfg.uses(blockTitle) {
		wordTerms(blockTitle, s.title)
	}
	return terms
}
