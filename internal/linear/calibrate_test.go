package linear

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/sparse"
)

// sampleLabels draws one label per row from softmax(a⊙s + b) over random
// decision values s and returns the values and the labels.
func sampleLabels(n int, a, b []float64, seed uint64) ([]float64, []int) {
	k := len(a)
	rng := rand.New(rand.NewPCG(seed, 2))
	scores := make([]float64, n*k)
	y := make([]int, n)
	p := make([]float64, k)
	for r := range n {
		row := scores[r*k : (r+1)*k]
		var z float64
		for c := range row {
			row[c] = rng.NormFloat64() * 0.5
			p[c] = math.Exp(a[c]*row[c] + b[c])
			z += p[c]
		}
		u := rng.Float64() * z
		for c := range p {
			if u -= p[c]; u <= 0 || c == k-1 {
				y[r] = c
				break
			}
		}
	}
	return scores, y
}

func meanNLL(scores []float64, y []int, a, b []float64) float64 {
	k := len(a)
	var sum float64
	for r, yr := range y {
		row := scores[r*k : (r+1)*k]
		mx := math.Inf(-1)
		for c := range k {
			mx = max(mx, a[c]*row[c]+b[c])
		}
		var z float64
		for c := range k {
			z += math.Exp(a[c]*row[c] + b[c] - mx)
		}
		sum += mx + math.Log(z) - (a[yr]*row[yr] + b[yr])
	}
	return sum / float64(len(y))
}

func TestFitTemperatureRecoversScale(t *testing.T) {
	// Labels drawn from softmax(s/0.25) should give T ≈ 0.25.
	const want = 0.25
	scores, y := sampleLabels(20000, []float64{4, 4, 4, 4}, make([]float64, 4), 1)
	if got := FitTemperature(scores, y, 4); math.Abs(got-want) > 0.03 {
		t.Errorf("T = %v, want %v", got, want)
	}
}

func TestFitScalingRecoversClassBiases(t *testing.T) {
	// One temperature cannot express a class that is favoured whatever its
	// score, nor one whose scores are overconfident; vector scaling can.
	a := []float64{4, 4, 1.5, 4}
	b := []float64{1, 0, 0, -1}
	scores, y := sampleLabels(20000, a, b, 3)
	temp := FitTemperature(scores, y, 4)
	scale, offset := FitScaling(scores, y, 4, temp)
	// The penalty shrinks the fit a little towards the temperature, so
	// the check is on shape: offsets ordered as b, class 2 scaled least.
	if !(offset[0] > offset[1]+0.5 && offset[1] > offset[3]+0.5) {
		t.Errorf("offsets %v do not follow %v", offset, b)
	}
	for c := range scale {
		if c != 2 && scale[2] >= scale[c] {
			t.Errorf("scales %v: class 2 should have the smallest (true %v)", scale, a)
		}
	}
	flat := make([]float64, 4)
	inv := []float64{1 / temp, 1 / temp, 1 / temp, 1 / temp}
	if got, tempOnly := meanNLL(scores, y, scale, offset), meanNLL(scores, y, inv, flat); got >= tempOnly-0.01 {
		t.Errorf("mean NLL %.4f with vector scaling, %.4f with the temperature alone", got, tempOnly)
	}
}

func TestMinimizeRosenbrock(t *testing.T) {
	f := func(x, g []float64) float64 {
		a, b := 1-x[0], x[1]-x[0]*x[0]
		g[0] = -2*a - 400*x[0]*b
		g[1] = 200 * b
		return a*a + 100*b*b
	}
	x := []float64{-1.2, 1}
	minimize(f, x, 500)
	if math.Abs(x[0]-1) > 1e-4 || math.Abs(x[1]-1) > 1e-4 {
		t.Errorf("minimum at %v, want [1 1]", x)
	}
}

// noisy returns a 4-class problem no linear model can get fully right: each
// row has two features from its class's pool of ten and two from a shared
// pool, and a quarter of the rows take their class features from a random
// class.
func noisy(n int, seed uint64) (*sparse.Matrix, []int) {
	const classes, pool = 4, 10
	rng := rand.New(rand.NewPCG(seed, 9))
	x := sparse.NewMatrix(classes*pool + 20)
	y := make([]int, n)
	for i := range n {
		c := rng.IntN(classes)
		y[i] = c
		src := c
		if rng.IntN(4) == 0 {
			src = rng.IntN(classes)
		}
		cols := map[uint32]float32{}
		for range 2 {
			cols[uint32(src*pool+rng.IntN(pool))] = 0.5
			cols[uint32(classes*pool+rng.IntN(20))] = 0.5
		}
		var v sparse.Vector
		for col := range uint32(x.Cols) {
			if val, ok := cols[col]; ok {
				v.Idx = append(v.Idx, col)
				v.Val = append(v.Val, val)
			}
		}
		x.Append(v)
	}
	return x, y
}

// The probabilities mean what they say on rows the model has not seen: the
// mean confidence matches the accuracy, and within confidence bins the
// share of correct answers stays near the bin's mean confidence.
func TestProbabilitiesAreCalibrated(t *testing.T) {
	x, y := noisy(4000, 1)
	m, err := Train(context.Background(), x, y, 4, DefaultParams(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, ty := noisy(4000, 2)
	n := tx.Rows()
	pTrue, pPred, correct := make([]float64, n), make([]float64, n), make([]bool, n)
	var right int
	var sumConf float64
	for i := range n {
		p := m.Scores(tx.Row(i), nil)
		best := m.Classify(slices.Clone(p))
		m.Probabilities(p)
		pTrue[i], pPred[i], correct[i] = p[ty[i]], p[best], best == ty[i]
		sumConf += p[best]
		if correct[i] {
			right++
		}
	}
	cal, err := metrics.EvaluateCalibration(pTrue, pPred, correct)
	if err != nil {
		t.Fatal(err)
	}
	ece := cal.ECE
	acc := float64(right) / float64(n)
	meanConf := sumConf / float64(n)
	t.Logf("held-out accuracy %.3f, mean confidence %.3f, expected calibration error %.4f", acc, meanConf, ece)
	if acc > 0.95 || acc < 0.5 {
		t.Fatalf("accuracy %.3f: the problem is not the noisy one this test needs", acc)
	}
	if math.Abs(meanConf-acc) > 0.03 {
		t.Errorf("mean confidence %.3f for accuracy %.3f", meanConf, acc)
	}
	if ece > 0.08 {
		t.Errorf("expected calibration error %.4f, want at most 0.08", ece)
	}
}

// Training in two phases for calibration ends at the same solution as
// training on all rows at once, up to the solver's tolerance.
func TestCalibrationPhasesKeepTheSolution(t *testing.T) {
	x, y := noisy(2000, 3)
	p := DefaultParams()
	p.Tol = 0.01
	with, err := Train(context.Background(), x, y, 4, p, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Calibrate = false
	without, err := Train(context.Background(), x, y, 4, p, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var diff, norm float64
	for j := range with.W {
		d := float64(with.W[j] - without.W[j])
		diff += d * d
		norm += float64(without.W[j]) * float64(without.W[j])
	}
	if r := math.Sqrt(diff / norm); r > 0.02 {
		t.Errorf("weights differ by %.3f of their norm", r)
	}
}

// On a handful of rows there is too little held out to fit a scale and an
// offset per class: calibration falls back to the temperature, which keeps
// the SVM's ranking, instead of a fit that used to flip every prediction.
func TestTinyDataKeepsTheRanking(t *testing.T) {
	for _, n := range []int{4, 8, 40} {
		classes := 4
		x := sparse.NewMatrix(classes)
		y := make([]int, n)
		for i := range n {
			y[i] = i % classes
			x.Append(sparse.Vector{Idx: []uint32{uint32(y[i])}, Val: []float32{1}})
		}
		m, err := Train(context.Background(), x, y, classes, DefaultParams(), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		for c := range classes {
			if !(m.Scale[c] > 0) {
				t.Errorf("n=%d: class %d has scale %v", n, c, m.Scale[c])
			}
		}
		for i := range n {
			if got := m.Classify(m.Scores(x.Row(i), nil)); got != y[i] {
				t.Errorf("n=%d: row %d classified %d, want %d (scale %v, offset %v)", n, i, got, y[i], m.Scale, m.Offset)
				break
			}
		}
	}
}
