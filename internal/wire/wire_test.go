package wire

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	w := NewWriter(0)
	w.Int(300)
	w.String("prdtypecode")
	w.Bool(true)
	w.Float64(math.Pi)
	w.Uint32s([]uint32{1, 1 << 31})
	w.Int64s([]int64{-1, 1 << 40})
	w.Float32s([]float32{0.5, -2})
	w.Float64s([]float64{1e-300})
	w.Blob([]byte{9})

	r := NewReader(w.Bytes())
	got := []any{r.Int(1000), r.String(), r.Bool(), r.Float64(), r.Uint32s(), r.Int64s(), r.Float32s(), r.Float64s(), r.Blob()}
	want := []any{300, "prdtypecode", true, math.Pi, []uint32{1, 1 << 31}, []int64{-1, 1 << 40}, []float32{0.5, -2}, []float64{1e-300}, []byte{9}}
	if r.Err() != nil || r.Remaining() != 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v (err %v, %d left), want %v", got, r.Err(), r.Remaining(), want)
	}
}

func TestReaderRejectsBadLengths(t *testing.T) {
	// A length of 2^62 elements must fail before any allocation.
	w := NewWriter(0)
	w.Uvarint(1 << 62)
	r := NewReader(w.Bytes())
	if v := r.Float64s(); v != nil || r.Err() == nil {
		t.Errorf("huge length: %d values, err %v", len(v), r.Err())
	}
	// Errors stick and later reads return zero values.
	if r.Int(10) != 0 || r.String() != "" {
		t.Error("read after an error returned data")
	}

	r = NewReader([]byte{1, 2})
	if r.Uint32(); !errors.Is(r.Err(), ErrTruncated) {
		t.Errorf("short read: err = %v, want ErrTruncated", r.Err())
	}
	r = NewReader([]byte{5})
	if r.Int(4); r.Err() == nil {
		t.Error("value above limit: no error")
	}
	r = NewReader([]byte{2})
	if r.Bool(); r.Err() == nil {
		t.Error("bool 2: no error")
	}
	r = NewReader([]byte{0xff, 0xff})
	if r.Uvarint(); r.Err() == nil {
		t.Error("unterminated varint: no error")
	}
}
