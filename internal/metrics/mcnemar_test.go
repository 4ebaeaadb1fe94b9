package metrics

import (
	"math"
	"testing"
)

// Exact values, as scipy.stats.binomtest gives them (the first two are the
// bench splits' test rows only one model gets right).
func TestMcNemarExact(t *testing.T) {
	for _, tc := range []struct {
		b, c int
		want float64
	}{
		{3, 9, 0.14599609375},
		{18, 11, 0.26493089646101},
		{0, 0, 1},
		{5, 5, 1},
		{0, 10, 0.001953125},
		{400, 480, 0.007707305043339113},
	} {
		got := McNemarExact(tc.b, tc.c)
		if math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("McNemarExact(%d, %d) = %.10g, want %.10g", tc.b, tc.c, got, tc.want)
		}
		if sym := McNemarExact(tc.c, tc.b); sym != got {
			t.Errorf("McNemarExact(%d, %d) = %g, but (%d, %d) = %g", tc.b, tc.c, got, tc.c, tc.b, sym)
		}
	}
}
