package sparse

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/wire"
)

func sample() *Matrix {
	m := NewMatrix(5)
	m.Append(Vector{Idx: []uint32{0, 3}, Val: []float32{1, 2}})
	m.Append(Vector{})
	m.Append(Vector{Idx: []uint32{4}, Val: []float32{-1.5}})
	return m
}

func TestMatrixBasics(t *testing.T) {
	m := sample()
	if m.Rows() != 3 || m.NNZ() != 3 {
		t.Fatalf("rows, nnz = %d, %d; want 3, 3", m.Rows(), m.NNZ())
	}
	if got := m.Row(0).Dot([]float64{2, 0, 0, 10, 0}); got != 22 {
		t.Errorf("dot = %v, want 22", got)
	}
	s := m.Select([]int{2, 0})
	if s.Rows() != 2 || s.Row(0).Idx[0] != 4 || s.Row(1).Val[1] != 2 {
		t.Errorf("select: %+v", s)
	}
	a := sample()
	a.AppendMatrix(s)
	if a.Rows() != 5 || a.Row(3).Idx[0] != 4 || a.Validate() != nil {
		t.Errorf("append matrix: %+v, %v", a, a.Validate())
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	m := sample()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Matrix
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, m) {
		t.Errorf("round trip: got %+v, want %+v", got, m)
	}
	for n := range len(b) {
		if err := new(Matrix).UnmarshalBinary(b[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	bad := bytes.Clone(b)
	bad[len(bad)-20] ^= 0xff // inside the column indices
	if err := new(Matrix).UnmarshalBinary(bad); err == nil {
		t.Error("corrupt column index: no error")
	}
}

func TestValidateRejectsBadColumns(t *testing.T) {
	m := &Matrix{Cols: 3, Ptr: []int64{0, 2}, Idx: []uint32{2, 1}, Val: []float32{1, 1}}
	if m.Validate() == nil {
		t.Error("decreasing columns accepted")
	}
	m.Idx = []uint32{1, 3}
	if m.Validate() == nil {
		t.Error("out-of-range column accepted")
	}
}

// A middle row pointer past the stored values is an error, not a panic:
// only the last pointer is checked against them up front.
func TestValidateRejectsPointerPastValues(t *testing.T) {
	m := &Matrix{Cols: 3, Ptr: []int64{0, 5, 2}, Idx: []uint32{0, 1}, Val: []float32{1, 1}}
	if err := m.Validate(); err == nil {
		t.Error("row pointer past the values accepted")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := new(Matrix).UnmarshalBinary(b); err == nil {
		t.Error("decoded a matrix whose row pointer runs past its values")
	}
}

// WriteTo streams the bytes MarshalBinary returns, for a matrix larger
// than the stream's chunks too.
func TestWriteToMatchesMarshal(t *testing.T) {
	big := NewMatrix(1 << 20)
	for i := range 20000 {
		big.Append(Vector{Idx: []uint32{uint32(i), uint32(i + 7), uint32(1<<20 - 1)}, Val: []float32{1, float32(i), -2}})
	}
	for _, m := range []*Matrix{sample(), NewMatrix(3), big} {
		want, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := m.WriteTo(&out)
		if err != nil || n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%d rows: WriteTo wrote %d bytes (%v), equal to MarshalBinary's %d: %v", m.Rows(), n, err, len(want), bytes.Equal(out.Bytes(), want))
		}
	}
}

type failAfter struct {
	r    io.Reader
	left int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("connection reset")
	}
	n, err := f.r.Read(p[:min(len(p), f.left)])
	f.left -= n
	return n, err
}

// ReadMatrix decodes what WriteTo streams; a stream that breaks gives its
// own error, and a length the input cannot hold is refused before any
// allocation.
func TestReadMatrix(t *testing.T) {
	m := sample()
	b, _ := m.MarshalBinary()
	got, err := ReadMatrix(bytes.NewReader(b), int64(len(b)))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("ReadMatrix = %+v, %v", got, err)
	}
	if _, err := ReadMatrix(&failAfter{r: bytes.NewReader(b), left: 10}, int64(len(b))); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("a broken stream: %v", err)
	}
	if _, err := ReadMatrix(bytes.NewReader(b), int64(len(b))+1); !errors.Is(err, wire.ErrTruncated) {
		t.Errorf("a size past the end: %v", err)
	}
	if _, err := ReadMatrix(bytes.NewReader(append(bytes.Clone(b), 0)), int64(len(b))+1); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("a trailing byte: %v", err)
	}
	// The header, version 1 and 5 columns, then a row pointer count of 2^40.
	huge := append([]byte(magic), 1, 5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)
	if _, err := ReadMatrix(bytes.NewReader(huge), int64(len(huge))); !errors.Is(err, wire.ErrTruncated) {
		t.Errorf("a length of 2^40: %v", err)
	}
}
