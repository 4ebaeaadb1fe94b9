package linear

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
)

// trainCS fits all classes jointly with Crammer and Singer's multi-class SVM
// (L2-regularised, hinge loss on the margin between the true class and the
// best other one), solved in the dual one row at a time with shrinking of
// rows and of classes within a row: liblinear's MCSVM_CS solver (Keerthi et
// al., KDD 2008). It writes the weights into m and, with calibration, the
// decision values of the held-out calibration rows into cal (see Train).
//
// The solver is sequential: every row update touches every class, so
// classes cannot be split between goroutines without changing the result.
func (t *trainer) trainCS(ctx context.Context, m *Model, cal []float64, progress Progress) error {
	x, y, k := t.x, t.y, t.classes
	n := x.Rows()
	bias := t.p.Bias
	cp := t.p.C
	w := m.W // feature-major, as the model stores it
	wb := make([]float64, k)
	alpha := make([]float64, n*k)
	alphaIndex := make([]int32, n*k) // per row: class order, active first
	activeI := make([]int, n)        // active classes per row
	yIndex := make([]int, n)         // position of the true class in alphaIndex
	index := make([]int32, n)
	for i := range n {
		for c := range k {
			alphaIndex[i*k+c] = int32(c)
		}
		activeI[i] = k
		yIndex[i] = y[i]
	}
	copy(index, t.order)
	g := make([]float64, k)
	b := make([]float64, k)
	d := make([]float64, k)
	alphaNew := make([]float64, k)
	dInd := make([]int32, k)
	dVal := make([]float32, k)
	rng := rand.New(rand.NewPCG(t.p.Seed, 0x6373))

	// shrunk reports whether class position p of row i sits at its bound
	// with a gradient that cannot make it move.
	shrunk := func(i, p int, a, minG float64) bool {
		bound := 0.0
		if p == yIndex[i] {
			bound = cp
		}
		return a == bound && g[p] < minG
	}

	eps := t.p.Tol
	// Progress counts epochs over both phases.
	phases := 1
	if len(t.cal) > 0 {
		phases = 2
	}
	// run solves over the rows in index[:rows], from the current solution.
	run := func(rows, phase int) error {
		for i := range activeI {
			activeI[i] = k
		}
		epsShrink := max(10*eps, 1)
		startFromAll := true
		active := rows
		for iter := 0; iter < t.p.MaxIter; iter++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			stopping := math.Inf(-1)
			for s := 0; s < active; s++ {
				j := s + rng.IntN(active-s)
				index[s], index[j] = index[j], index[s]
			}
			for s := 0; s < active; s++ {
				i := int(index[s])
				ai := t.sqnorm[i]
				if ai <= 0 {
					continue // an empty row without intercept touches no weight; its subproblem divides by ai
				}
				al := alpha[i*k : i*k+k]
				ax := alphaIndex[i*k : i*k+k]
				na := activeI[i]
				for p := range na {
					g[p] = 1
				}
				if yIndex[i] < na {
					g[yIndex[i]] = 0
				}
				row := x.Row(i)
				for q, col := range row.Idx {
					v := float64(row.Val[q])
					wr := w[int(col)*k : int(col)*k+k]
					for p := range na {
						g[p] += float64(wr[ax[p]]) * v
					}
				}
				for p := range na {
					g[p] += wb[ax[p]] * bias
				}
				minG, maxG := math.Inf(1), math.Inf(-1)
				for p := range na {
					if al[ax[p]] < 0 && g[p] < minG {
						minG = g[p]
					}
					maxG = max(maxG, g[p])
				}
				if yIndex[i] < na && al[y[i]] < cp && g[yIndex[i]] < minG {
					minG = g[yIndex[i]]
				}
				for p := 0; p < na; p++ {
					if !shrunk(i, p, al[ax[p]], minG) {
						continue
					}
					na--
					for na > p {
						if !shrunk(i, na, al[ax[na]], minG) {
							ax[p], ax[na] = ax[na], ax[p]
							g[p], g[na] = g[na], g[p]
							if yIndex[i] == na {
								yIndex[i] = p
							} else if yIndex[i] == p {
								yIndex[i] = na
							}
							break
						}
						na--
					}
				}
				activeI[i] = na
				if na <= 1 {
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if maxG-minG <= 1e-12 {
					continue
				}
				stopping = max(stopping, maxG-minG)
				for p := range na {
					b[p] = g[p] - ai*al[ax[p]]
				}
				solveSubproblem(ai, yIndex[i], cp, b[:na], d[:na], alphaNew[:na])
				nz := 0
				for p := range na {
					c := ax[p]
					delta := alphaNew[p] - al[c]
					al[c] = alphaNew[p]
					if math.Abs(delta) >= 1e-12 {
						dInd[nz], dVal[nz] = c, float32(delta)
						nz++
					}
				}
				for q, col := range row.Idx {
					v := row.Val[q]
					wr := w[int(col)*k : int(col)*k+k]
					for p := range nz {
						wr[dInd[p]] += dVal[p] * v
					}
				}
				for p := range nz {
					wb[dInd[p]] += float64(dVal[p]) * bias
				}
			}
			if progress != nil && iter+1 < t.p.MaxIter {
				progress(phase*t.p.MaxIter+iter+1, phases*t.p.MaxIter)
			}
			if stopping < epsShrink {
				if stopping < eps && startFromAll {
					return nil
				}
				active = rows
				for i := range activeI {
					activeI[i] = k
				}
				epsShrink = max(epsShrink/2, eps)
				startFromAll = true
			} else {
				startFromAll = false
			}
		}
		t.unconverged.Add(1)
		return nil
	}

	if err := run(t.first, 0); err != nil {
		return err
	}
	if len(t.cal) > 0 {
		for c := range k {
			m.B[c] = float32(wb[c] * bias)
		}
		scores := make([]float64, k)
		for r, i := range t.cal {
			copy(cal[r*k:(r+1)*k], m.Scores(x.Row(i), scores))
		}
		// Warm start: the held-out rows join with alpha 0.
		if err := run(n, 1); err != nil {
			return err
		}
	}
	if progress != nil {
		progress(phases*t.p.MaxIter, phases*t.p.MaxIter) // converged: the rest is not needed
	}
	for c := range k {
		m.B[c] = float32(wb[c] * bias)
	}
	return nil
}

// solveSubproblem minimises the dual of one row over its active classes, in
// closed form after a sort: b holds the gradients minus A·alpha, yi the true
// class's position (or >= len(b) when shrunk), c its upper bound; d is
// scratch. The result goes to alphaNew.
func solveSubproblem(a float64, yi int, c float64, b, d, alphaNew []float64) {
	copy(d, b)
	if yi < len(b) {
		d[yi] += a * c
	}
	slices.Sort(d)
	slices.Reverse(d)
	beta := d[0] - a*c
	r := 1
	for ; r < len(d) && beta < float64(r)*d[r]; r++ {
		beta += d[r]
	}
	beta /= float64(r)
	for p := range b {
		if p == yi {
			alphaNew[p] = min(c, (beta-b[p])/a)
		} else {
			alphaNew[p] = min(0, (beta-b[p])/a)
		}
	}
}
