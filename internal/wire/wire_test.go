package wire

import (
	"bytes"
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

// A stream Writer sends exactly the bytes a buffered one holds, however its
// chunks fall, and counts them.
func TestStreamWriterMatchesBuffered(t *testing.T) {
	big := make([]uint32, 3*streamChunk/4+7) // spans several chunks
	for i := range big {
		big[i] = uint32(i * 2654435761)
	}
	floats := make([]float32, 20000)
	for i := range floats {
		floats[i] = float32(i) / 3
	}
	encode := func(w *Writer) {
		w.Raw([]byte("HEAD"))
		w.Int(42)
		w.Uint32s(big)
		w.String("a string")
		w.Float32s(floats)
		w.Int64s([]int64{1, -2, 3})
		w.Float64s([]float64{0.5})
		w.Blob(make([]byte, streamChunk+1))
		w.Bool(true)
	}
	mem := NewWriter(0)
	encode(mem)
	var out bytes.Buffer
	s := NewStreamWriter(&out)
	encode(s)
	n, err := s.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), mem.Bytes()) || n != int64(len(mem.Bytes())) {
		t.Fatalf("streamed %d bytes (count %d), buffered %d; equal %v", out.Len(), n, len(mem.Bytes()), bytes.Equal(out.Bytes(), mem.Bytes()))
	}
	if len(s.buf) != 0 || cap(s.buf) > 4*streamChunk {
		t.Errorf("stream buffer left with %d bytes, capacity %d", len(s.buf), cap(s.buf))
	}
}

// failingWriter takes after bytes, then fails every write; it counts the
// writes and refuses empty ones, which a pipe would block on.
type failingWriter struct {
	after, calls, afterFailure int
	failed                     bool
	empty                      bool
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.calls++
	if len(p) == 0 {
		f.empty = true
	}
	if f.failed {
		f.afterFailure++
		return 0, errors.New("written to after failing")
	}
	if f.after < len(p) {
		n := f.after
		f.after, f.failed = 0, true
		return n, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

// The first write error sticks and ends the writing: Flush reports it with
// the bytes that went, and nothing is written after it.
func TestStreamWriterKeepsFirstError(t *testing.T) {
	f := &failingWriter{after: streamChunk + 10}
	s := NewStreamWriter(f)
	s.Uint32s(make([]uint32, streamChunk)) // 4 chunks' worth
	s.Blob(make([]byte, 3*streamChunk))
	n, err := s.Flush()
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("err %v, want disk full", err)
	}
	if n != streamChunk+10 {
		t.Errorf("%d bytes sent, want %d", n, streamChunk+10)
	}
	if f.afterFailure > 0 {
		t.Errorf("%d writes after the failure", f.afterFailure)
	}
	if _, err := NewWriter(0).Flush(); err == nil {
		t.Error("flush of an in-memory writer: no error")
	}
}

// A stream Writer never writes nothing: an empty write to a pipe waits for
// a reader that may have read all it wanted.
func TestStreamWriterSkipsEmptyWrites(t *testing.T) {
	f := &failingWriter{after: 1 << 30}
	s := NewStreamWriter(f)
	s.Raw(make([]byte, streamChunk)) // sent at once, leaving the buffer empty
	if _, err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if f.empty || f.calls != 1 {
		t.Errorf("%d writes, an empty one: %v; want one, none empty", f.calls, f.empty)
	}
}

// A StreamReader reads back what a Writer wrote, as a Reader does, and
// refuses every truncation of it.
func TestStreamReaderRoundTrip(t *testing.T) {
	w := NewWriter(0)
	w.Raw([]byte("HEAD"))
	w.Int(300)
	w.Int64s([]int64{1, -2, 1 << 40})
	w.Uint32s(make([]uint32, 3*streamChunk/4+5)) // more than one chunk of the reader
	w.Float32s([]float32{0.5, -1})
	b := w.Bytes()
	read := func(b []byte, size int64) *StreamReader {
		r := NewStreamReader(bytes.NewReader(b), size)
		if string(r.Raw(4)) != "HEAD" && r.Err() == nil {
			t.Fatal("head")
		}
		if v := r.Int(1000); r.Err() == nil && v != 300 {
			t.Fatalf("int %d", v)
		}
		if v := r.Int64s(); r.Err() == nil && !reflect.DeepEqual(v, []int64{1, -2, 1 << 40}) {
			t.Fatalf("int64s %v", v)
		}
		if v := r.Uint32s(); r.Err() == nil && len(v) != 3*streamChunk/4+5 {
			t.Fatalf("uint32s: %d", len(v))
		}
		if v := r.Float32s(); r.Err() == nil && !reflect.DeepEqual(v, []float32{0.5, -1}) {
			t.Fatalf("float32s %v", v)
		}
		r.End()
		return r
	}
	if err := read(b, int64(len(b))).Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 3, 5, 9, 100, len(b) - 1} {
		if err := read(b[:n], int64(n)).Err(); !errors.Is(err, ErrTruncated) {
			t.Errorf("cut to %d bytes: %v", n, err)
		}
	}
}
