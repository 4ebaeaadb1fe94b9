// Package features turns product listings into TF-IDF feature vectors: word
// 1–2-grams and character n-grams inside word boundaries (like
// scikit-learn's char_wb), with sublinear tf, smoothed idf and L2
// normalisation per block of features. The first and last words of the
// title count again as features of their own, because that is where titles
// name the product: "Chaussures de sport", "Men Striped Polo Tshirt".
//
// N-grams are hashed straight from the bytes of the normalised text (FNV-1a
// then a 64-bit mix), so no n-gram string is ever built. Fitting keeps the
// hash buckets seen in at least MinDF documents and gives each a column, so
// the feature space stays compact while lookup stays an array index.
package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prodcat/prodcat/internal/sparse"
	"github.com/prodcat/prodcat/internal/text"
	"github.com/prodcat/prodcat/internal/wire"
)

// Document is one listing: its title (the challenge's designation) and its
// body (the description, possibly HTML, possibly empty).
type Document struct {
	Title string
	Body  string
}

// Config says which features to extract. The zero value is not useful; start
// from DefaultConfig.
type Config struct {
	// WordNgrams is the largest word n-gram (1 or 2).
	WordNgrams int `json:"word_ngrams"`
	// CharMin and CharMax bound the character n-grams taken inside
	// space-padded words; CharMax 0 turns character features off.
	CharMin int `json:"char_min"`
	CharMax int `json:"char_max"`
	// WordMinDF and CharMinDF drop n-grams seen in fewer training documents.
	WordMinDF int `json:"word_min_df"`
	CharMinDF int `json:"char_min_df"`
	// HashBits sets the size of each block's hash space (2^HashBits buckets).
	HashBits int `json:"hash_bits"`
	// TitleWeight, when positive, adds a block of word n-grams from the
	// title alone, scaled by this weight, so the title counts more than the
	// description.
	TitleWeight float64 `json:"title_weight"`
	// CharWeight scales the character block relative to the word block.
	CharWeight float64 `json:"char_weight"`
	// TitleEnds adds the title's first and last words to the word block
	// as features distinct from the same words elsewhere.
	TitleEnds bool `json:"title_ends"`
}

// DefaultConfig returns the feature settings used when none are given.
func DefaultConfig() Config {
	return Config{
		WordNgrams:  2,
		CharMin:     3,
		CharMax:     5,
		WordMinDF:   1,
		CharMinDF:   2,
		HashBits:    20,
		TitleWeight: 0.5,
		CharWeight:  1,
		TitleEnds:   true,
	}
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	switch {
	case c.WordNgrams < 1 || c.WordNgrams > 2:
		return fmt.Errorf("word n-grams %d: want 1 or 2", c.WordNgrams)
	case c.CharMax != 0 && (c.CharMin < 1 || c.CharMin > c.CharMax || c.CharMax > 8):
		return fmt.Errorf("char n-grams %d-%d: want 1 <= min <= max <= 8", c.CharMin, c.CharMax)
	case c.WordMinDF < 1 || c.CharMinDF < 1:
		return errors.New("min df must be at least 1")
	case c.HashBits < 8 || c.HashBits > 26:
		return fmt.Errorf("hash bits %d: want 8..26", c.HashBits)
	case !finiteNonNegative(c.TitleWeight) || !finiteNonNegative(c.CharWeight) || c.TitleWeight > maxBlockWeight || c.CharWeight > maxBlockWeight:
		return fmt.Errorf("block weights %v (title) and %v (char): want 0 to %v", c.TitleWeight, c.CharWeight, maxBlockWeight)
	}
	return nil
}

// maxBlockWeight bounds the block weights: only their ratio to the word
// block's 1 matters, and a huge one overflows float32 features.
const maxBlockWeight = 1000

func finiteNonNegative(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }

// uses reports whether c gives block b any features.
func (c *Config) uses(b int) bool {
	switch b {
	case blockChar:
		return c.CharMax > 0 && c.CharWeight > 0
	case blockTitle:
		return c.TitleWeight > 0
	}
	return true
}

// The feature blocks, in column order.
const (
	blockWord = iota
	blockChar
	blockTitle
	numBlocks
)

// Seeds keep the blocks' hash functions independent.
var blockSeeds = [numBlocks]uint64{0x243f6a8885a308d3, 0x13198a2e03707344, 0xa4093822299f31d0}

// block is the fitted state of one feature block.
type block struct {
	buckets []uint32  // kept hash buckets, increasing; column = offset + rank
	idf     []float32 // per kept bucket
	table   []slot    // open-addressing bucket -> rank; derived from buckets
	shift   uint      // 32 - log2(len(table))
	offset  int
	weight  float32
}

func (b *block) enabled() bool { return b.weight > 0 && len(b.buckets) > 0 }

// Vectorizer is a fitted TF-IDF vectorizer. It is safe for concurrent use.
type Vectorizer struct {
	cfg     Config
	blocks  [numBlocks]block
	numCols int
	pool    sync.Pool // *Scratch
}

// Config returns the settings v was fitted with.
func (v *Vectorizer) Config() Config { return v.cfg }

// NumFeatures returns the number of columns of the vectors v produces.
func (v *Vectorizer) NumFeatures() int { return v.numCols }

// Scratch holds the reusable buffers of one transformation. A Scratch must
// not be used by two goroutines at once.
type Scratch struct {
	title, all []byte
	keys       [numBlocks][]uint32
	cols       []uint32
	tf         []uint32
	pos        []int32
	vec        sparse.Vector
}

func (v *Vectorizer) scratch() *Scratch {
	if s, ok := v.pool.Get().(*Scratch); ok {
		return s
	}
	return new(Scratch)
}

// ErrNoFeatures is returned by Fit for documents that give no feature: a
// fault of the data, which trying again cannot mend.
var ErrNoFeatures = errors.New("no features")

// Fit learns document frequencies from docs using up to workers goroutines
// (0 means GOMAXPROCS) and returns the fitted vectorizer.
func Fit(ctx context.Context, docs []Document, cfg Config, workers int) (*Vectorizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fit vectorizer: %w", err)
	}
	if len(docs) == 0 {
		return nil, errors.New("fit vectorizer: no documents")
	}
	// One set of counters, for the blocks in use, shared by the workers:
	// 4<<HashBits bytes a block whatever the number of cores. Additions
	// commute, so the counts do not depend on the schedule.
	var df [numBlocks][]uint32
	for b := range df {
		if cfg.uses(b) {
			df[b] = make([]uint32, 1<<cfg.HashBits)
		}
	}
	var hasBody atomic.Bool
	err := parallel(ctx, len(docs), workers, func(lo, hi int, s *Scratch) {
		for i := lo; i < hi; i++ {
			extract(&cfg, s, docs[i], true)
			if len(s.all) > len(s.title) {
				hasBody.Store(true)
			}
			for b := range numBlocks {
				if df[b] == nil {
					continue
				}
				keys := s.keys[b]
				slices.Sort(keys)
				keys = slices.Compact(keys)
				for _, k := range keys {
					atomic.AddUint32(&df[b][k], 1)
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("fit vectorizer: %w", err)
	}
	v := &Vectorizer{cfg: cfg}
	n := float64(len(docs))
	minDF := [numBlocks]uint32{uint32(cfg.WordMinDF), uint32(cfg.CharMinDF), uint32(cfg.WordMinDF)}
	weights := [numBlocks]float64{1, cfg.CharWeight, cfg.TitleWeight}
	if !hasBody.Load() && cfg.TitleWeight > 0 {
		// With no bodies the title block repeats the word block, but for
		// the title's end words (TitleEnds), which only the word block has.
		// One word block weighted sqrt(1+t²) gives nearly the same inner
		// products (cross-validation cannot tell them apart on the fashion
		// titles) with fewer non-zeros to train and score on.
		weights[blockWord] = math.Sqrt(1 + cfg.TitleWeight*cfg.TitleWeight)
		weights[blockTitle] = 0
	}
	for b := range numBlocks {
		bl := &v.blocks[b]
		bl.weight = float32(weights[b])
		if bl.weight == 0 {
			continue
		}
		for k, c := range df[b] {
			if c >= minDF[b] && c > 0 {
				bl.buckets = append(bl.buckets, uint32(k))
				// Smoothed idf, as scikit-learn's smooth_idf=True.
				bl.idf = append(bl.idf, float32(math.Log((1+n)/(1+float64(c)))+1))
			}
		}
	}
	v.index()
	if v.numCols == 0 {
		return nil, fmt.Errorf("fit vectorizer: %w: the %d documents have no word or character n-gram seen in enough of them (min df %d words, %d characters)",
			ErrNoFeatures, len(docs), cfg.WordMinDF, cfg.CharMinDF)
	}
	return v, nil
}

// slot is one entry of a block's lookup table: key is bucket+1 (0 marks an
// empty slot) and rank the bucket's rank among the kept buckets.
type slot struct {
	key  uint32
	rank int32
}

// buildTable fills the lookup table, sized to twice the kept buckets: a
// table over the whole hash space would be faster to build but would make a
// model's memory depend on HashBits rather than on what it keeps (and let a
// crafted file ask for gigabytes).
func (bl *block) buildTable() {
	bits := uint(1)
	for 1<<bits < 2*len(bl.buckets) {
		bits++
	}
	bl.table = make([]slot, 1<<bits)
	bl.shift = 32 - bits
	mask := uint32(len(bl.table) - 1)
	for r, k := range bl.buckets {
		h := (k * 0x9e3779b1) >> bl.shift
		for bl.table[h].key != 0 {
			h = (h + 1) & mask
		}
		bl.table[h] = slot{key: k + 1, rank: int32(r)}
	}
}

// rank returns the rank of bucket k among the kept buckets, or -1.
func (bl *block) rank(k uint32) int32 {
	mask := uint32(len(bl.table) - 1)
	for h := (k * 0x9e3779b1) >> bl.shift; ; h = (h + 1) & mask {
		switch e := bl.table[h]; e.key {
		case k + 1:
			return e.rank
		case 0:
			return -1
		}
	}
}

// index derives the column offsets and bucket lookup tables from the kept
// buckets.
func (v *Vectorizer) index() {
	v.numCols = 0
	for b := range numBlocks {
		bl := &v.blocks[b]
		bl.offset = v.numCols
		bl.table = nil
		if !bl.enabled() {
			continue
		}
		bl.buildTable()
		v.numCols += len(bl.buckets)
	}
}

// Transform returns the TF-IDF matrix of docs, one row per document, using up
// to workers goroutines (0 means GOMAXPROCS). The result does not depend on
// the number of workers.
func (v *Vectorizer) Transform(ctx context.Context, docs []Document, workers int) (*sparse.Matrix, error) {
	var mu sync.Mutex
	parts := make(map[int]*sparse.Matrix)
	err := parallel(ctx, len(docs), workers, func(lo, hi int, s *Scratch) {
		m := sparse.NewMatrix(v.numCols)
		for i := lo; i < hi; i++ {
			m.Append(v.AppendVector(s, docs[i]))
		}
		mu.Lock()
		parts[lo] = m
		mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	starts := make([]int, 0, len(parts))
	nnz := 0
	for lo, p := range parts {
		starts = append(starts, lo)
		nnz += p.NNZ()
	}
	slices.Sort(starts)
	out := &sparse.Matrix{Cols: v.numCols, Ptr: make([]int64, 1, len(docs)+1), Idx: make([]uint32, 0, nnz), Val: make([]float32, 0, nnz)}
	for _, lo := range starts {
		out.AppendMatrix(parts[lo])
	}
	return out, nil
}

// Vector returns the feature vector of doc in a freshly allocated Vector.
func (v *Vectorizer) Vector(doc Document) sparse.Vector {
	s := v.scratch()
	vec := v.AppendVector(s, doc)
	out := sparse.Vector{Idx: slices.Clone(vec.Idx), Val: slices.Clone(vec.Val)}
	v.pool.Put(s)
	return out
}

// NewScratch returns buffers for AppendVector.
func (v *Vectorizer) NewScratch() *Scratch { return v.scratch() }

// AppendVector computes the feature vector of doc in s's buffers and returns
// it; the result is valid until s is used again.
func (v *Vectorizer) AppendVector(s *Scratch, doc Document) sparse.Vector {
	return v.appendVector(s, doc, true)
}

// AppendUnordered is AppendVector without sorting the indices, for callers
// that only take dot products (prediction): it saves a sort per block.
func (v *Vectorizer) AppendUnordered(s *Scratch, doc Document) sparse.Vector {
	return v.appendVector(s, doc, false)
}

func (v *Vectorizer) appendVector(s *Scratch, doc Document, sorted bool) sparse.Vector {
	extract(&v.cfg, s, doc, v.blocks[blockTitle].enabled())
	s.vec.Idx, s.vec.Val = s.vec.Idx[:0], s.vec.Val[:0]
	if len(s.pos) < v.numCols {
		// pos[col] is col's slot in s.cols while a block is counted, else -1.
		s.pos = make([]int32, v.numCols)
		for i := range s.pos {
			s.pos[i] = -1
		}
	}
	for b := range numBlocks {
		bl := &v.blocks[b]
		if !bl.enabled() {
			continue
		}
		// Count term frequencies without sorting: distinct columns go to
		// s.cols in order of first sight, their counts to s.tf.
		s.cols, s.tf = s.cols[:0], s.tf[:0]
		for _, k := range s.keys[b] {
			r := bl.rank(k)
			if r < 0 {
				continue
			}
			if p := s.pos[r+int32(bl.offset)]; p >= 0 {
				s.tf[p]++
				continue
			}
			s.pos[r+int32(bl.offset)] = int32(len(s.cols))
			s.cols = append(s.cols, uint32(r))
			s.tf = append(s.tf, 1)
		}
		if sorted {
			slices.Sort(s.cols)
		}
		start := len(s.vec.Val)
		var norm float64
		for _, r := range s.cols {
			col := uint32(bl.offset) + r
			p := &s.pos[col]
			x := bl.idf[r]
			if tf := s.tf[*p]; tf > 1 {
				// Sublinear tf: 1 + ln(tf).
				x *= 1 + float32(math.Log(float64(tf)))
			}
			*p = -1
			norm += float64(x) * float64(x)
			s.vec.Idx = append(s.vec.Idx, col)
			s.vec.Val = append(s.vec.Val, x)
		}
		if norm > 0 {
			scale := bl.weight / float32(math.Sqrt(norm))
			for k := start; k < len(s.vec.Val); k++ {
				s.vec.Val[k] *= scale
			}
		}
	}
	return s.vec
}

// extract fills s.keys with the hash buckets of every n-gram of doc, per
// block, with repetitions; the title block only when title is set.
func extract(cfg *Config, s *Scratch, doc Document, title bool) {
	s.title = text.AppendNormalized(s.title[:0], doc.Title)
	s.all = append(s.all[:0], s.title...)
	if doc.Body != "" {
		// A separator only between two texts: an empty word would be a
		// feature of its own.
		n := len(s.all)
		if n > 0 {
			s.all = append(s.all, ' ')
		}
		s.all = text.AppendNormalized(s.all, doc.Body)
		if n > 0 && len(s.all) == n+1 {
			s.all = s.all[:n] // the body had no words
		}
	}
	shift := uint(64 - cfg.HashBits)
	s.keys[blockWord] = appendWordKeys(s.keys[blockWord][:0], s.all, cfg.WordNgrams, blockSeeds[blockWord], shift)
	if cfg.TitleEnds {
		s.keys[blockWord] = appendEndKeys(s.keys[blockWord], s.title, blockSeeds[blockWord], shift)
	}
	s.keys[blockChar] = s.keys[blockChar][:0]
	if cfg.uses(blockChar) {
		s.keys[blockChar] = appendCharKeys(s.keys[blockChar], s.all, cfg.CharMin, cfg.CharMax, blockSeeds[blockChar], shift)
	}
	s.keys[blockTitle] = s.keys[blockTitle][:0]
	if title && cfg.uses(blockTitle) {
		s.keys[blockTitle] = appendWordKeys(s.keys[blockTitle], s.title, cfg.WordNgrams, blockSeeds[blockTitle], shift)
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mix is the splitmix64 finaliser: it spreads FNV's weak low bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// bucket is the hash bucket of an n-gram hashed to h, in the block of seed.
func bucket(h, seed uint64, shift uint) uint32 { return uint32(mix(h^seed) >> shift) }

// pairHash is the hash of a word bigram from the hashes of its words.
func pairHash(prev, h uint64) uint64 { return prev*0x9e3779b97f4a7c15 ^ h }

// appendWordKeys appends the buckets of the word 1..n-grams of the
// normalised text t (words separated by single spaces).
func appendWordKeys(keys []uint32, t []byte, n int, seed uint64, shift uint) []uint32 {
	var prev uint64
	havePrev := false
	for i := 0; i < len(t); {
		j := len(t)
		if k := bytes.IndexByte(t[i:], ' '); k >= 0 {
			j = i + k
		}
		h := fnv(t[i:j])
		keys = append(keys, bucket(h, seed, shift))
		if n >= 2 && havePrev {
			keys = append(keys, bucket(pairHash(prev, h), seed, shift))
		}
		prev, havePrev = h, true
		i = j + 1
	}
	return keys
}

// Seeds that set the title's end words apart from the same words elsewhere.
const (
	firstWordSeed = 0x452821e638d01377
	lastWordSeed  = 0xbe5466cf34e90c6c
)

// appendEndKeys appends the buckets of the first and the last word of the
// normalised title t, if it has any words.
func appendEndKeys(keys []uint32, t []byte, seed uint64, shift uint) []uint32 {
	if len(t) == 0 {
		return keys
	}
	first, last := t, t
	if i := bytes.IndexByte(t, ' '); i >= 0 {
		first = t[:i]
		last = t[bytes.LastIndexByte(t, ' ')+1:]
	}
	return append(keys, bucket(fnv(first)^firstWordSeed, seed, shift), bucket(fnv(last)^lastWordSeed, seed, shift))
}

// fnv returns the FNV-1a hash of b.
func fnv(b []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// appendCharKeys appends the buckets of the character min..max-grams of each
// space-padded word of t. Lengths count runes, not bytes.
func appendCharKeys(keys []uint32, t []byte, min, max int, seed uint64, shift uint) []uint32 {
	var starts [64]int // rune start offsets within the padded word
	for i := 0; i < len(t); {
		j := i
		for j < len(t) && t[j] != ' ' {
			j++
		}
		// The padded word is t[i-1 : j+1] with virtual spaces at both ends;
		// pos -1 and j stand for the spaces.
		word := t[i:j]
		ns := 0
		starts[ns] = -1
		ns++
		for k := 0; k < len(word); k++ {
			if word[k]&0xc0 != 0x80 {
				if ns == len(starts)-2 {
					// Very long tokens (URLs, references) keep their head.
					word = word[:k]
					break
				}
				starts[ns] = k
				ns++
			}
		}
		starts[ns] = len(word)
		ns++
		end := ns // starts[end] is one past the trailing space
		starts[end] = len(word) + 1
		for a := 0; a < end; a++ {
			h := uint64(fnvOffset)
			for n := 1; n <= max && a+n <= end; n++ {
				for p := starts[a+n-1]; p < starts[a+n]; p++ {
					c := byte(' ')
					if p >= 0 && p < len(word) {
						c = word[p]
					}
					h = (h ^ uint64(c)) * fnvPrime
				}
				if n >= min {
					keys = append(keys, bucket(h, seed, shift))
				}
			}
		}
		i = j + 1
	}
	return keys
}

// parallel splits [0, n) into chunks and runs work on them with up to
// workers goroutines, each with its own Scratch.
func parallel(ctx context.Context, n, workers int, work func(lo, hi int, s *Scratch)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 256
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, (n+chunk-1)/chunk) {
		wg.Go(func() {
			s := new(Scratch)
			for ctx.Err() == nil {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					break
				}
				work(lo, min(lo+chunk, n), s)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

const (
	magic = "PCVECT"
	// Version is the encoding Encode writes. Decode also reads version 1,
	// which predates Config.TitleEnds.
	Version = 2
)

// MarshalBinary encodes the fitted vectorizer.
func (v *Vectorizer) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(1024)
	w.Raw([]byte(magic))
	w.Int(Version)
	v.Encode(w)
	return w.Bytes(), nil
}

// UnmarshalBinary decodes a vectorizer written by MarshalBinary.
func (v *Vectorizer) UnmarshalBinary(data []byte) error {
	r := wire.NewReader(data)
	if string(r.Raw(len(magic))) != magic {
		return errors.New("decode vectorizer: not a vectorizer file")
	}
	ver := r.Int(1 << 16)
	if err := r.Err(); err != nil {
		return fmt.Errorf("decode vectorizer: version: %w", err)
	}
	if ver < 1 || ver > Version {
		return fmt.Errorf("decode vectorizer: unsupported version %d (this build reads 1 to %d)", ver, Version)
	}
	if err := v.Decode(r, ver); err != nil {
		return err
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("decode vectorizer: %d trailing bytes", r.Remaining())
	}
	return nil
}

// Encode writes v to w without a header, for embedding in other formats.
func (v *Vectorizer) Encode(w *wire.Writer) {
	c := v.cfg
	for _, x := range []int{c.WordNgrams, c.CharMin, c.CharMax, c.WordMinDF, c.CharMinDF, c.HashBits} {
		w.Int(x)
	}
	w.Float64(c.TitleWeight)
	w.Float64(c.CharWeight)
	w.Bool(c.TitleEnds)
	for b := range numBlocks {
		bl := &v.blocks[b]
		w.Uint32(math.Float32bits(bl.weight))
		// Buckets are increasing: store gaps as varints, a third of the size.
		w.Int(len(bl.buckets))
		var prev uint32
		for _, k := range bl.buckets {
			w.Uvarint(uint64(k - prev))
			prev = k
		}
		w.Float32s(bl.idf)
	}
}

// Decode reads a vectorizer written by Encode in the given version and
// checks it.
func (v *Vectorizer) Decode(r *wire.Reader, version int) error {
	var c Config
	for _, p := range []*int{&c.WordNgrams, &c.CharMin, &c.CharMax, &c.WordMinDF, &c.CharMinDF, &c.HashBits} {
		*p = r.Int(1 << 30)
	}
	c.TitleWeight = r.Float64()
	c.CharWeight = r.Float64()
	if version >= 2 {
		c.TitleEnds = r.Bool()
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("decode vectorizer: %w", err)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("decode vectorizer: %w", err)
	}
	v.cfg = c
	size := uint64(1) << c.HashBits
	for b := range numBlocks {
		bl := &v.blocks[b]
		bl.weight = math.Float32frombits(r.Uint32())
		n := r.Len(1)
		bl.buckets = make([]uint32, 0, n)
		var k uint64
		for i := range n {
			k += r.Uvarint()
			if r.Err() == nil && (k >= size || (i > 0 && k <= uint64(bl.buckets[i-1]))) {
				return fmt.Errorf("decode vectorizer: block %d: bucket %d out of order or range", b, k)
			}
			bl.buckets = append(bl.buckets, uint32(k))
		}
		bl.idf = r.Float32s()
		if err := r.Err(); err != nil {
			return fmt.Errorf("decode vectorizer: %w", err)
		}
		if len(bl.idf) != len(bl.buckets) || !finiteNonNegative(float64(bl.weight)) {
			return fmt.Errorf("decode vectorizer: block %d: inconsistent", b)
		}
		for i, x := range bl.idf {
			if !(x > 0) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("decode vectorizer: block %d: idf %v of bucket %d is not a positive number", b, x, bl.buckets[i])
			}
		}
	}
	v.index()
	return nil
}
