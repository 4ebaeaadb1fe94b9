package metrics

import "math"

// McNemarExact returns the two-sided exact McNemar p-value for b and c
// discordant rows (those only the first, or only the second, of two
// models gets right): the chance, if each were equally likely to favour
// either side, of a split at least as uneven.
func McNemarExact(b, c int) float64 {
	n, k := b+c, min(b, c)
	if n == 0 {
		return 1
	}
	// P(X <= k) for X ~ Binomial(n, 1/2), summed in logs: n may be large.
	lgN1, _ := math.Lgamma(float64(n + 1))
	var tail float64
	for i := 0; i <= k; i++ {
		lgI, _ := math.Lgamma(float64(i + 1))
		lgNI, _ := math.Lgamma(float64(n - i + 1))
		tail += math.Exp(lgN1 - lgI - lgNI - float64(n)*math.Ln2)
	}
	return min(1, 2*tail)
}
