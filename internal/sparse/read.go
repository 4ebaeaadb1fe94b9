package sparse

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/prodcat/prodcat/internal/wire"
)

// ReadMatrix decodes a matrix that WriteTo or MarshalBinary wrote from r,
// which holds size bytes, and validates it. It reads r as it decodes, so a
// large matrix is loaded without a copy of its encoding in memory, and no
// length field can make it allocate more than size bytes justify.
func ReadMatrix(r io.Reader, size int64) (*Matrix, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10), left: size}
	head := make([]byte, len(magic))
	d.full(head)
	if d.err == nil && string(head) != magic {
		return nil, errors.New("decode sparse matrix: not a sparse matrix file")
	}
	if v := d.uvarint(); d.err == nil && v != version {
		return nil, fmt.Errorf("decode sparse matrix: unsupported version %d", v)
	}
	m := &Matrix{}
	if cols := d.uvarint(); cols > 1<<32 {
		d.fail(fmt.Errorf("%d columns exceed the limit %d", cols, uint64(1)<<32))
	} else {
		m.Cols = int(cols)
	}
	m.Ptr = decodeSlice(d, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
	m.Idx = decodeSlice(d, 4, binary.LittleEndian.Uint32)
	m.Val = decodeSlice(d, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
	if d.err == nil && d.left != 0 {
		if _, err := d.r.ReadByte(); err != nil {
			d.fail(fmt.Errorf("%d bytes short: %w", d.left, wire.ErrTruncated))
		} else {
			d.fail(fmt.Errorf("%d trailing bytes", d.left))
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode sparse matrix: %w", d.err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("decode sparse matrix: %w", err)
	}
	return m, nil
}

// decoder reads the wire encoding from a stream of a known length. Its
// first error sticks.
type decoder struct {
	r    *bufio.Reader
	left int64 // bytes of the input not yet read
	off  int64
	err  error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("at offset %d: %w", d.off, err)
	}
}

// full fills b from the input.
func (d *decoder) full(b []byte) {
	if d.err != nil {
		return
	}
	if int64(len(b)) > d.left {
		d.fail(wire.ErrTruncated)
		return
	}
	n, err := io.ReadFull(d.r, b)
	d.off += int64(n)
	d.left -= int64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = wire.ErrTruncated
		}
		d.fail(err)
	}
}

// ReadByte makes a decoder an io.ByteReader for binary.ReadUvarint.
func (d *decoder) ReadByte() (byte, error) {
	var b [1]byte
	d.full(b[:])
	return b[0], d.err
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d)
	if err != nil {
		d.fail(errors.New("bad varint"))
		return 0
	}
	return v
}

// decodeSlice reads a length-prefixed slice of elements of elem bytes each,
// converted by conv, refusing a length the rest of the input cannot hold.
func decodeSlice[T any](d *decoder, elem int, conv func([]byte) T) []T {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(d.left)/uint64(elem) {
		d.fail(fmt.Errorf("%d elements of %d bytes: %w", n, elem, wire.ErrTruncated))
		return nil
	}
	out := make([]T, n)
	buf := make([]byte, min(int(n)*elem, 64<<10))
	for i := 0; i < len(out) && d.err == nil; {
		k := min(len(out)-i, len(buf)/elem)
		chunk := buf[:k*elem]
		d.full(chunk)
		for j := range k {
			out[i+j] = conv(chunk[j*elem:])
		}
		i += k
	}
	if d.err != nil {
		return nil
	}
	return out
}
