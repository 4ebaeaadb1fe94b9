package linear

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/sparse"
	"github.com/prodcat/prodcat/internal/wire"
)

// toy returns a separable 3-class problem: class c has its own strong
// feature c plus noise features 3..9.
func toy(n int) (*sparse.Matrix, []int) {
	rng := rand.New(rand.NewPCG(7, 7))
	x := sparse.NewMatrix(10)
	y := make([]int, n)
	for i := range n {
		c := i % 3
		y[i] = c
		noise := uint32(3 + rng.IntN(7))
		x.Append(sparse.Vector{Idx: []uint32{uint32(c), noise}, Val: []float32{0.9, 0.4}})
	}
	return x, y
}

func TestTrainSeparable(t *testing.T) {
	x, y := toy(300)
	var calls, last int
	m, err := Train(context.Background(), x, y, 3, DefaultParams(), 2, func(done, total int) {
		calls++
		if total != 3 || done < last {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || last != 3 {
		t.Errorf("progress called %d times, last done %d; want 3, 3", calls, last)
	}
	for i := range x.Rows() {
		s := m.Scores(x.Row(i), nil)
		best := 0
		for c := range s {
			if s[c] > s[best] {
				best = c
			}
		}
		if best != y[i] {
			t.Fatalf("row %d: predicted %d, want %d (scores %v)", i, best, y[i], s)
		}
		m.Probabilities(s)
		var sum float64
		for _, p := range s {
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 || s[y[i]] < 0.5 {
			t.Fatalf("row %d: probabilities %v", i, s)
		}
	}
}

func TestTrainIsDeterministicAcrossWorkers(t *testing.T) {
	x, y := toy(600)
	p := DefaultParams()
	p.Balanced = true
	a, err := Train(context.Background(), x, y, 3, p, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), x, y, 3, p, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("models differ between 1 and 3 workers")
	}
	p.Seed = 2
	c, err := Train(context.Background(), x, y, 3, p, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.W, c.W) {
		t.Log("note: seed did not change the weights (possible on an easy problem)")
	}
}

func TestTrainErrors(t *testing.T) {
	x, y := toy(30)
	ctx := context.Background()
	if _, err := Train(ctx, x, y[:10], 3, DefaultParams(), 1, nil); err == nil {
		t.Error("label count mismatch: no error")
	}
	bad := append([]int(nil), y...)
	bad[0] = 5
	if _, err := Train(ctx, x, bad, 3, DefaultParams(), 1, nil); err == nil {
		t.Error("label out of range: no error")
	}
	p := DefaultParams()
	p.C = 0
	if _, err := Train(ctx, x, y, 3, p, 1, nil); err == nil {
		t.Error("C = 0: no error")
	}
	if _, err := Train(ctx, x, y, MaxClasses+1, DefaultParams(), 1, nil); !errors.Is(err, ErrClasses) || !strings.Contains(err.Error(), "classes: want 2 to 65536") {
		t.Errorf("more classes than a model file holds: err = %v", err)
	}
	for name, p := range map[string]Params{
		"tol +Inf":           {C: 1, Tol: math.Inf(1), MaxIter: 10},
		"huge bias":          {C: 1, Tol: 0.1, MaxIter: 10, Bias: 1e200},
		"balanced with CS":   {C: 1, Tol: 0.1, MaxIter: 10, Balanced: true, Multiclass: CrammerSinger},
		"NaN bias":           {C: 1, Tol: 0.1, MaxIter: 10, Bias: math.NaN()},
		"C +Inf":             {C: math.Inf(1), Tol: 0.1, MaxIter: 10},
		"no iterations":      {C: 1, Tol: 0.1},
		"unknown multiclass": {C: 1, Tol: 0.1, MaxIter: 10, Multiclass: "ovo"},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Train(cctx, x, y, 3, DefaultParams(), 1, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// Train says how many solves stopped at MaxIter instead of converging.
func TestTrainCountsUnconvergedSolves(t *testing.T) {
	x, y := toy(60)
	for _, mc := range []string{OneVsRest, CrammerSinger} {
		p := DefaultParams()
		p.Multiclass = mc
		m, err := Train(context.Background(), x, y, 3, p, 1, nil)
		if err != nil || m.Unconverged != 0 {
			t.Errorf("%s, default: %d unconverged, %v", mc, m.Unconverged, err)
		}
		p.MaxIter, p.Tol = 1, 1e-9
		m, err = Train(context.Background(), x, y, 3, p, 1, nil)
		if err != nil || m.Unconverged == 0 {
			t.Errorf("%s, one epoch to reach 1e-9: %d unconverged, %v", mc, m.Unconverged, err)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	x, y := toy(60)
	m, err := Train(context.Background(), x, y, 3, DefaultParams(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := wire.NewWriter(0)
	m.Encode(w)
	var got Model
	if err := got.Decode(wire.NewReader(w.Bytes()), true); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, m) {
		t.Error("round trip changed the model")
	}
	b := w.Bytes()
	if err := new(Model).Decode(wire.NewReader(b[:len(b)-3]), true); err == nil {
		t.Error("truncated: no error")
	}

	// The layout without calibration ends after the weights and scales the
	// decision values by the temperature alone.
	old := *m
	old.Scale, old.Offset = []float64{}, []float64{}
	w = wire.NewWriter(0)
	old.Encode(w)
	b = w.Bytes()
	b = b[:len(b)-2] // two empty float64 lists, one byte each
	var legacy Model
	if err := legacy.Decode(wire.NewReader(b), false); err != nil {
		t.Fatal(err)
	}
	s := legacy.Scores(x.Row(0), nil)
	want := slices.Clone(s)
	legacy.Logits(s)
	for c := range s {
		if math.Abs(s[c]-want[c]/m.Temperature) > 1e-12 {
			t.Fatalf("legacy logits %v, want scores %v / T %v", s, want, m.Temperature)
		}
	}

	bad := *m
	bad.Offset = []float64{0, math.NaN(), 0}
	w = wire.NewWriter(0)
	bad.Encode(w)
	if err := new(Model).Decode(wire.NewReader(w.Bytes()), true); err == nil {
		t.Error("NaN offset: no error")
	}
}

func TestCrammerSingerSeparableAndDeterministic(t *testing.T) {
	x, y := toy(300)
	p := DefaultParams()
	p.Multiclass = CrammerSinger
	var last int
	m, err := Train(context.Background(), x, y, 3, p, 2, func(done, total int) {
		if total != 2*p.MaxIter || done < last {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != 2*p.MaxIter {
		t.Errorf("last progress %d, want %d", last, 2*p.MaxIter)
	}
	for i := range x.Rows() {
		s := m.Scores(x.Row(i), nil)
		m.Probabilities(s)
		for c := range s {
			if c != y[i] && s[c] >= s[y[i]] {
				t.Fatalf("row %d: class %d scores above the true class %d: %v", i, c, y[i], s)
			}
		}
	}
	again, err := Train(context.Background(), x, y, 3, p, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, again) {
		t.Error("two Crammer-Singer trainings differ")
	}
}

// The row subproblem's solution satisfies the dual's constraints: the
// alphas sum to zero, the true class's is at most C and the others at most 0.
func TestSolveSubproblemKeepsConstraints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + rng.IntN(8)
		b := make([]float64, n)
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		a, c, yi := 0.1+rng.Float64(), 0.5+rng.Float64(), rng.IntN(n)
		got := make([]float64, n)
		solveSubproblem(a, yi, c, b, make([]float64, n), got)
		var sum float64
		for i, v := range got {
			sum += v
			if (i == yi && v > c+1e-12) || (i != yi && v > 1e-12) {
				t.Fatalf("trial %d: alpha[%d] = %v breaks its bound (y %d, C %v)", trial, i, v, yi, c)
			}
		}
		if math.Abs(sum) > 1e-9 {
			t.Fatalf("trial %d: alphas sum to %v, want 0", trial, sum)
		}
	}
}

func TestValidateRejectsUnknownMulticlass(t *testing.T) {
	p := DefaultParams()
	p.Multiclass = "ecoc"
	if p.Validate() == nil {
		t.Error("unknown multiclass formulation accepted")
	}
}

// An epoch's order is a permutation of the active rows, fixed by the seed,
// whether rows go one by one or in blocks adjacent in memory.
func TestShuffleIsASeededPermutation(t *testing.T) {
	for _, block := range []int{1, 4, maxBlockRows} {
		const n = 100
		rows := make([]int32, n)
		for i := range rows {
			rows[i] = int32(i)
		}
		order := func(seed uint64) []int32 {
			s := &solver{t: &trainer{block: block}, seen: make([]uint64, (n+63)/64)}
			index := slices.Clone(rows)
			slices.Reverse(index) // shrinking leaves the active rows in any order
			s.shuffle(index, rand.New(rand.NewPCG(seed, 0)))
			return index
		}
		a := order(1)
		if got := slices.Sorted(slices.Values(a)); !slices.Equal(got, rows) {
			t.Errorf("block %d: %v is not a permutation of the rows", block, a)
		}
		if !slices.Equal(order(1), a) {
			t.Errorf("block %d: the same seed gave another order", block)
		}
		if slices.Equal(order(2), a) {
			t.Errorf("block %d: another seed gave the same order %v", block, a)
		}
	}
}

// sortRows sorts any subset of the rows, as a comparison sort would, and
// leaves its bitmap clear for the next epoch.
func TestSortRows(t *testing.T) {
	const n = 1000
	s := &solver{seen: make([]uint64, (n+63)/64)}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 63, 64, 65, 500, n} {
		index := make([]int32, 0, size)
		for _, i := range rng.Perm(n)[:size] {
			index = append(index, int32(i))
		}
		want := slices.Sorted(slices.Values(index))
		s.sortRows(index)
		if !slices.Equal(index, want) {
			t.Errorf("%d rows: got %v, want %v", size, index, want)
		}
		if i := slices.IndexFunc(s.seen, func(w uint64) bool { return w != 0 }); i >= 0 {
			t.Fatalf("%d rows: bitmap word %d left set", size, i)
		}
	}
}

func TestBlockRowsFollowRowLength(t *testing.T) {
	for _, tc := range []struct{ nnzPerRow, want int }{{83, 12}, {758, 1}, {2000, 1}, {2, maxBlockRows}} {
		x := sparse.NewMatrix(tc.nnzPerRow)
		idx, val := make([]uint32, tc.nnzPerRow), make([]float32, tc.nnzPerRow)
		for j := range idx {
			idx[j], val[j] = uint32(j), 1
		}
		for range 10 {
			x.Append(sparse.Vector{Idx: idx, Val: val})
		}
		if got := blockRows(x); got != tc.want {
			t.Errorf("%d non-zeros per row: %d rows per block, want %d", tc.nnzPerRow, got, tc.want)
		}
	}
}
