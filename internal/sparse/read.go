package sparse

import (
	"errors"
	"fmt"
	"io"

	"github.com/prodcat/prodcat/internal/wire"
)

// ReadMatrix decodes a matrix that WriteTo or MarshalBinary wrote from r,
// which holds size bytes, and validates it. It reads r as it decodes, so a
// large matrix is loaded without a copy of its encoding in memory, and no
// length field can make it allocate more than size bytes justify.
func ReadMatrix(r io.Reader, size int64) (*Matrix, error) {
	d := wire.NewStreamReader(r, size)
	if head := d.Raw(len(magic)); d.Err() == nil && string(head) != magic {
		return nil, errors.New("decode sparse matrix: not a sparse matrix file")
	}
	if v := d.Int(1 << 16); d.Err() == nil && v != version {
		return nil, fmt.Errorf("decode sparse matrix: unsupported version %d", v)
	}
	m := &Matrix{Cols: d.Int(1 << 32)}
	m.Ptr = d.Int64s()
	m.Idx = d.Uint32s()
	m.Val = d.Float32s()
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode sparse matrix: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("decode sparse matrix: %w", err)
	}
	return m, nil
}
