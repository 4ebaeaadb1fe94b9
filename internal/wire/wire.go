// Package wire is the little-endian, length-checked binary encoding shared by
// prodcat's artifact formats (sparse matrices, vectorizers, linear models and
// model files).
//
// A Reader never panics and never allocates more than the bytes left in its
// input justify, so a corrupt length field yields an error, not a huge
// allocation.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrTruncated is returned when the input ends before a value is complete.
var ErrTruncated = errors.New("unexpected end of data")

// Writer appends encoded values to a byte slice, or streams them to an
// io.Writer (NewStreamWriter).
type Writer struct {
	buf []byte
	// out, when set, takes the buffer whenever it fills past streamChunk,
	// with written counting what it took and err its first error, after
	// which the Writer encodes nothing more.
	out     io.Writer
	written int64
	err     error
}

// NewWriter returns a Writer whose buffer starts with capacity n.
func NewWriter(n int) *Writer { return &Writer{buf: make([]byte, 0, n)} }

// streamChunk is how much a stream Writer buffers before it writes.
const streamChunk = 64 << 10

// NewStreamWriter returns a Writer that sends what it encodes to out as it
// goes, holding at most about streamChunk bytes of it, so that encoding a
// large value needs no copy of it in memory. Its Bytes are what it has not
// sent yet; Flush sends them.
func NewStreamWriter(out io.Writer) *Writer {
	return &Writer{buf: make([]byte, 0, 2*streamChunk), out: out}
}

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.buf }

// spill sends the buffer to a stream Writer's output once it holds a chunk.
func (w *Writer) spill() {
	if w.out != nil && len(w.buf) >= streamChunk {
		w.send()
	}
}

// send writes the buffer, if it holds anything (an empty write to a pipe
// waits for a reader that may be gone), and empties it.
func (w *Writer) send() {
	if w.err == nil && len(w.buf) > 0 {
		w.write(w.buf)
	}
	w.buf = w.buf[:0]
}

func (w *Writer) write(b []byte) {
	if w.err == nil {
		var n int
		n, w.err = w.out.Write(b)
		w.written += int64(n)
	}
}

// stopped reports whether a stream Writer has failed, so that encoding
// the rest would be thrown away.
func (w *Writer) stopped() bool { return w.err != nil }

// Flush sends what a stream Writer still buffers and returns how many
// bytes it sent in all and its first write error.
func (w *Writer) Flush() (int64, error) {
	if w.out == nil {
		return 0, errors.New("wire: flush of a writer with no output")
	}
	w.send()
	return w.written, w.err
}

// Raw appends b as is. A stream Writer sends a large b as it is rather
// than through its buffer.
func (w *Writer) Raw(b []byte) {
	if w.out != nil && len(b) >= streamChunk {
		w.send()
		w.write(b)
		return
	}
	w.buf = append(w.buf, b...)
	w.spill()
}

// Uvarint appends v as an unsigned varint.
func (w *Writer) Uvarint(v uint64) {
	w.buf = binary.AppendUvarint(w.buf, v)
	w.spill()
}

// Int appends a non-negative int as a varint.
func (w *Writer) Int(v int) { w.Uvarint(uint64(v)) }

// Uint32 appends v in 4 bytes.
func (w *Writer) Uint32(v uint32) {
	w.buf = binary.LittleEndian.AppendUint32(w.buf, v)
	w.spill()
}

// Uint64 appends v in 8 bytes.
func (w *Writer) Uint64(v uint64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf, v)
	w.spill()
}

// Float64 appends v in 8 bytes.
func (w *Writer) Float64(v float64) { w.Uint64(math.Float64bits(v)) }

// Bool appends v as one byte.
func (w *Writer) Bool(v bool) {
	b := byte(0)
	if v {
		b = 1
	}
	w.buf = append(w.buf, b)
	w.spill()
}

// String appends a length-prefixed string.
func (w *Writer) String(s string) {
	w.Int(len(s))
	if w.out != nil && len(s) >= streamChunk {
		w.send()
		w.write([]byte(s))
		return
	}
	w.buf = append(w.buf, s...)
	w.spill()
}

// Blob appends a length-prefixed byte slice.
func (w *Writer) Blob(b []byte) {
	w.Int(len(b))
	w.Raw(b)
}

// Uint32s appends a length-prefixed slice of uint32.
func (w *Writer) Uint32s(v []uint32) {
	w.Int(len(v))
	for _, x := range v {
		if w.stopped() {
			return
		}
		w.Uint32(x)
	}
}

// Int64s appends a length-prefixed slice of int64.
func (w *Writer) Int64s(v []int64) {
	w.Int(len(v))
	for _, x := range v {
		if w.stopped() {
			return
		}
		w.Uint64(uint64(x))
	}
}

// Float32s appends a length-prefixed slice of float32.
func (w *Writer) Float32s(v []float32) {
	w.Int(len(v))
	for _, x := range v {
		if w.stopped() {
			return
		}
		w.Uint32(math.Float32bits(x))
	}
}

// Float64s appends a length-prefixed slice of float64.
func (w *Writer) Float64s(v []float64) {
	w.Int(len(v))
	for _, x := range v {
		if w.stopped() {
			return
		}
		w.Float64(x)
	}
}

// Reader decodes values written by Writer. The first error sticks: later
// reads return zero values, and Err reports it, so callers may check once.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err returns the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Remaining returns the number of bytes not yet read.
func (r *Reader) Remaining() int { return len(r.buf) - r.off }

// Fail records err unless an error is already recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Remaining() {
		r.err = fmt.Errorf("at offset %d: %w", r.off, ErrTruncated)
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

// Raw returns the next n bytes (aliasing the input).
func (r *Reader) Raw(n int) []byte { return r.take(n) }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		r.err = fmt.Errorf("at offset %d: bad varint", r.off)
		return 0
	}
	r.off += n
	return v
}

// Int reads a non-negative int written by Writer.Int, failing if it exceeds max.
func (r *Reader) Int(max int) int {
	v := r.Uvarint()
	if r.err == nil && v > uint64(max) {
		r.err = fmt.Errorf("at offset %d: value %d exceeds limit %d", r.off, v, max)
		return 0
	}
	return int(v)
}

// Len reads a length prefix for elements of elemSize bytes, failing when the
// remaining input cannot hold that many elements.
func (r *Reader) Len(elemSize int) int {
	if elemSize < 1 {
		elemSize = 1
	}
	return r.Int(r.Remaining() / elemSize)
}

// Uint32 reads 4 bytes.
func (r *Reader) Uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// Uint64 reads 8 bytes.
func (r *Reader) Uint64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// Float64 reads 8 bytes.
func (r *Reader) Float64() float64 { return math.Float64frombits(r.Uint64()) }

// Bool reads one byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	b := r.take(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		r.Fail(fmt.Errorf("at offset %d: bad bool %d", r.off-1, b[0]))
	}
	return b[0] == 1
}

// String reads a length-prefixed string.
func (r *Reader) String() string { return string(r.take(r.Len(1))) }

// Blob reads a length-prefixed byte slice (aliasing the input).
func (r *Reader) Blob() []byte { return r.take(r.Len(1)) }

// Uint32s reads a length-prefixed slice of uint32.
func (r *Reader) Uint32s() []uint32 {
	b := r.take(4 * r.Len(4))
	if b == nil {
		return nil
	}
	v := make([]uint32, len(b)/4)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return v
}

// Int64s reads a length-prefixed slice of int64.
func (r *Reader) Int64s() []int64 {
	b := r.take(8 * r.Len(8))
	if b == nil {
		return nil
	}
	v := make([]int64, len(b)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}

// Float32s reads a length-prefixed slice of float32.
func (r *Reader) Float32s() []float32 {
	b := r.take(4 * r.Len(4))
	if b == nil {
		return nil
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Float64s reads a length-prefixed slice of float64.
func (r *Reader) Float64s() []float64 {
	b := r.take(8 * r.Len(8))
	if b == nil {
		return nil
	}
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}
