// Package sparse holds the sparse vectors and compressed-sparse-row matrices
// that carry TF-IDF features from the vectorizer to the solver, with a
// compact, versioned binary encoding so a matrix can be stored as a pipeline
// artifact between activities.
package sparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/prodcat/prodcat/internal/wire"
)

// Vector is a sparse vector: Val[k] is the value at index Idx[k]. Indices are
// strictly increasing.
type Vector struct {
	Idx []uint32
	Val []float32
}

// Dot returns the dot product of v with the dense vector w.
func (v Vector) Dot(w []float64) float64 {
	var s float64
	for k, j := range v.Idx {
		s += float64(v.Val[k]) * w[j]
	}
	return s
}

// Matrix is a compressed-sparse-row matrix: row i has column indices
// Idx[Ptr[i]:Ptr[i+1]] and values Val[Ptr[i]:Ptr[i+1]], columns increasing.
type Matrix struct {
	Cols int
	Ptr  []int64 // len = rows + 1, Ptr[0] = 0
	Idx  []uint32
	Val  []float32
}

// NewMatrix returns an empty matrix with cols columns.
func NewMatrix(cols int) *Matrix { return &Matrix{Cols: cols, Ptr: []int64{0}} }

// Rows returns the number of rows.
func (m *Matrix) Rows() int { return len(m.Ptr) - 1 }

// NNZ returns the number of stored values.
func (m *Matrix) NNZ() int { return len(m.Idx) }

// Row returns row i, aliasing the matrix storage.
func (m *Matrix) Row(i int) Vector {
	a, b := m.Ptr[i], m.Ptr[i+1]
	return Vector{Idx: m.Idx[a:b], Val: m.Val[a:b]}
}

// Append adds v as a new last row.
func (m *Matrix) Append(v Vector) {
	m.Idx = append(m.Idx, v.Idx...)
	m.Val = append(m.Val, v.Val...)
	m.Ptr = append(m.Ptr, int64(len(m.Idx)))
}

// AppendMatrix adds the rows of o below those of m.
func (m *Matrix) AppendMatrix(o *Matrix) {
	base := int64(len(m.Idx))
	m.Idx = append(m.Idx, o.Idx...)
	m.Val = append(m.Val, o.Val...)
	for _, p := range o.Ptr[1:] {
		m.Ptr = append(m.Ptr, base+p)
	}
}

// Select returns a new matrix made of the given rows of m, in that order.
func (m *Matrix) Select(rows []int) *Matrix {
	nnz := 0
	for _, i := range rows {
		nnz += int(m.Ptr[i+1] - m.Ptr[i])
	}
	s := &Matrix{Cols: m.Cols, Ptr: make([]int64, 1, len(rows)+1), Idx: make([]uint32, 0, nnz), Val: make([]float32, 0, nnz)}
	for _, i := range rows {
		s.Append(m.Row(i))
	}
	return s
}

// Validate checks the structural invariants of m: monotone row pointers
// within the stored values and increasing in-range column indices.
func (m *Matrix) Validate() error {
	if len(m.Ptr) == 0 || m.Ptr[0] != 0 {
		return errors.New("sparse matrix: row pointers must start at 0")
	}
	if len(m.Idx) != len(m.Val) || m.Ptr[len(m.Ptr)-1] != int64(len(m.Idx)) {
		return errors.New("sparse matrix: row pointers do not match the stored values")
	}
	for i := 0; i < m.Rows(); i++ {
		a, b := m.Ptr[i], m.Ptr[i+1]
		// Checked before indexing: only the last pointer is known to be in
		// range, and an earlier one may point past it.
		if a > b || b > int64(len(m.Idx)) {
			return fmt.Errorf("sparse matrix: row %d: row pointers %d..%d out of order or range", i, a, b)
		}
		for k := a; k < b; k++ {
			j := m.Idx[k]
			if int64(j) >= int64(m.Cols) || (k > a && j <= m.Idx[k-1]) {
				return fmt.Errorf("sparse matrix: row %d: column %d out of order or range", i, j)
			}
		}
	}
	return nil
}

const (
	magic   = "PCSPMAT"
	version = 1
)

// MarshalBinary encodes m.
func (m *Matrix) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(16 + 8*len(m.Ptr) + 8*len(m.Idx))
	m.encodeFile(w)
	return w.Bytes(), nil
}

// WriteTo writes what MarshalBinary returns to out as it encodes it, so a
// large matrix is stored without a second copy of it in memory.
func (m *Matrix) WriteTo(out io.Writer) (int64, error) {
	w := wire.NewStreamWriter(out)
	m.encodeFile(w)
	return w.Flush()
}

func (m *Matrix) encodeFile(w *wire.Writer) {
	w.Raw([]byte(magic))
	w.Int(version)
	m.encode(w)
}

// UnmarshalBinary decodes data written by MarshalBinary into m.
func (m *Matrix) UnmarshalBinary(data []byte) error {
	d, err := ReadMatrix(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	*m = *d
	return nil
}

// encode writes m to w without a header.
func (m *Matrix) encode(w *wire.Writer) {
	w.Int(m.Cols)
	w.Int64s(m.Ptr)
	w.Uint32s(m.Idx)
	w.Float32s(m.Val)
}
