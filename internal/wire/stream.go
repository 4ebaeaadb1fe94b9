package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// StreamReader decodes what a Writer wrote as a Reader does, but from a
// stream of known length, so a large value is decoded without a copy of its
// encoding in memory. Its first error sticks, and no length field makes it
// allocate more than the bytes left in the stream, as its length says,
// justify.
type StreamReader struct {
	r    *bufio.Reader
	left int64 // bytes of the stream not yet read
	off  int64
	err  error
}

// NewStreamReader returns a StreamReader over r, which holds size bytes.
func NewStreamReader(r io.Reader, size int64) *StreamReader {
	return &StreamReader{r: bufio.NewReaderSize(r, streamChunk), left: size}
}

// Err returns the first error met, if any.
func (r *StreamReader) Err() error { return r.err }

// Fail records err, with the offset, unless an error is already recorded.
func (r *StreamReader) Fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("at offset %d: %w", r.off, err)
	}
}

// full fills b from the stream.
func (r *StreamReader) full(b []byte) {
	if r.err != nil {
		return
	}
	if int64(len(b)) > r.left {
		r.Fail(ErrTruncated)
		return
	}
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	r.left -= int64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = ErrTruncated
		}
		r.Fail(err)
	}
}

// ReadByte makes a StreamReader an io.ByteReader for binary.ReadUvarint.
func (r *StreamReader) ReadByte() (byte, error) {
	var b [1]byte
	r.full(b[:])
	return b[0], r.err
}

// Raw returns the next n bytes.
func (r *StreamReader) Raw(n int) []byte {
	if r.err != nil || int64(n) > r.left {
		r.Fail(ErrTruncated)
		return nil
	}
	b := make([]byte, n)
	r.full(b)
	return b
}

// Uvarint reads an unsigned varint.
func (r *StreamReader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r)
	if err != nil {
		r.Fail(errors.New("bad varint"))
		return 0
	}
	return v
}

// Int reads a non-negative int written by Writer.Int, failing if it exceeds max.
func (r *StreamReader) Int(max int) int {
	v := r.Uvarint()
	if r.err == nil && v > uint64(max) {
		r.Fail(fmt.Errorf("value %d exceeds limit %d", v, max))
		return 0
	}
	return int(v)
}

// Uint32s reads a length-prefixed slice of uint32.
func (r *StreamReader) Uint32s() []uint32 { return streamSlice(r, 4, binary.LittleEndian.Uint32) }

// Int64s reads a length-prefixed slice of int64.
func (r *StreamReader) Int64s() []int64 {
	return streamSlice(r, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
}

// Float32s reads a length-prefixed slice of float32.
func (r *StreamReader) Float32s() []float32 {
	return streamSlice(r, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// End checks that the stream holds no more than what was read, and as
// much as its length said.
func (r *StreamReader) End() {
	if r.err != nil || r.left == 0 {
		return
	}
	if _, err := r.r.ReadByte(); err != nil {
		r.Fail(fmt.Errorf("%d bytes short: %w", r.left, ErrTruncated))
	} else {
		r.Fail(fmt.Errorf("%d trailing bytes", r.left))
	}
}

// streamSlice reads a length-prefixed slice of elements of elem bytes each,
// converted by conv, refusing a length the rest of the stream cannot hold.
func streamSlice[T any](r *StreamReader, elem int, conv func([]byte) T) []T {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(r.left)/uint64(elem) {
		r.Fail(fmt.Errorf("%d elements of %d bytes: %w", n, elem, ErrTruncated))
		return nil
	}
	out := make([]T, n)
	buf := make([]byte, min(int(n)*elem, streamChunk))
	for i := 0; i < len(out) && r.err == nil; {
		k := min(len(out)-i, len(buf)/elem)
		chunk := buf[:k*elem]
		r.full(chunk)
		for j := range k {
			out[i+j] = conv(chunk[j*elem:])
		}
		i += k
	}
	if r.err != nil {
		return nil
	}
	return out
}
