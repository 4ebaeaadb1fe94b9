package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/prodcat/prodcat/internal/testenv"
)

func open(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRealRakutenRaw(t *testing.T) {
	x := open(t, testenv.Split(t, "rakuten", "X_train.csv"))
	y := open(t, testenv.Split(t, "rakuten", "Y_train.csv"))
	d, err := ReadRaw(x, y, Options{MaxRejectFraction: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2932 || len(d.Rejects) != 0 {
		t.Errorf("%d examples, %d rejects (%s); want 2932 and 0", len(d.Examples), len(d.Rejects), d.RejectSummary())
	}
	if n := len(Labels(d.Examples)); n != 27 {
		t.Errorf("%d labels, want 27", n)
	}
	train, hold := Split(d.Examples, 0.2, "prodcat", ByID)
	if len(train)+len(hold) != 2932 || len(Labels(hold)) != 27 {
		t.Errorf("split: %d train, %d holdout with %d labels", len(train), len(hold), len(Labels(hold)))
	}

	// The unlabelled test file reads too.
	xt := open(t, testenv.Split(t, "rakuten", "X_test.csv"))
	dt, err := ReadRaw(xt, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dt.Examples) != 732 || dt.Examples[0].Label != "" {
		t.Errorf("X_test: %d examples", len(dt.Examples))
	}
}

func TestRealGenericCSV(t *testing.T) {
	tests := []struct {
		split        string
		rows, labels int
	}{
		{"rakuten", 2932, 27},
		{"fashion", 35503, 35},
	}
	for _, tt := range tests {
		t.Run(tt.split, func(t *testing.T) {
			f := open(t, testenv.Split(t, tt.split, "train.csv"))
			d, err := ReadCSV(f, []string{"text"}, "label", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Examples) != tt.rows || len(d.Rejects) != 0 {
				t.Errorf("%d examples, %d rejects (%s); want %d and 0", len(d.Examples), len(d.Rejects), d.RejectSummary(), tt.rows)
			}
			if n := len(Labels(d.Examples)); n != tt.labels {
				t.Errorf("%d labels, want %d", n, tt.labels)
			}
		})
	}
}

func BenchmarkReadRaw(b *testing.B) {
	xb, err := os.ReadFile(testenv.Split(b, "rakuten", "X_train.csv"))
	if err != nil {
		b.Fatal(err)
	}
	yb, err := os.ReadFile(testenv.Split(b, "rakuten", "Y_train.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(xb) + len(yb)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadRaw(bytes.NewReader(xb), bytes.NewReader(yb), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// countRecords counts what encoding/csv sees in data after the header:
// records and malformed records alike.
func countRecords(data []byte) int {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	n := -1 // the header
	for {
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return -2
		}
		n++
	}
	return max(n, 0)
}

// checkAccounting checks that every X record became exactly one example or
// one reject with its line, and that errors on in-memory input are data
// errors.
func checkAccounting(t *testing.T, x []byte, d *Dataset, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrBadData) {
		t.Fatalf("error on in-memory input is not ErrBadData: %v", err)
	}
	if d == nil {
		if err == nil {
			t.Fatal("nil dataset without error")
		}
		return
	}
	xRejects := 0
	for _, r := range d.Rejects {
		if r.Line < 0 || r.Kind == "" || r.Reason == "" {
			t.Fatalf("bad reject %+v", r)
		}
		if r.Line > 0 {
			xRejects++
		}
	}
	if want := countRecords(x); len(d.Examples)+xRejects != want {
		t.Fatalf("%d examples + %d X rejects != %d records", len(d.Examples), xRejects, want)
	}
}

func FuzzReadRaw(f *testing.F) {
	f.Add([]byte(xHeader+"0,a,\"b\nc\",1,1\n1,d,,2,2\n"), []byte(",prdtypecode\n0,10\n1,40\n"))
	f.Add([]byte("\uFEFF"+xHeader+"0,a,,1,1\r\n1,\"x,,2,2\n"), []byte(",prdtypecode\n1,10\n1,10\n5,40\n"))
	f.Add([]byte(xHeader+"0,,\xff,1\n"), []byte(""))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		opts := Options{KnownLabels: []string{"10", "40"}, MaxFieldBytes: 64}
		d, err := ReadRaw(bytes.NewReader(x), bytes.NewReader(y), opts)
		checkAccounting(t, x, d, err)
		d, err = ReadRaw(bytes.NewReader(x), nil, opts)
		checkAccounting(t, x, d, err)
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("text,label\na,b\n\"multi\nline\",c\n"))
	f.Add([]byte(",title,text,label\n1,a,b,c\n1,d,e,f\n2,,,g\n3,\"x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadCSV(bytes.NewReader(data), []string{"title", "text"}, "label", Options{StrictUTF8: true})
		checkAccounting(t, data, d, err)
		d, err = ReadCSV(bytes.NewReader(data), []string{"text"}, "", Options{})
		checkAccounting(t, data, d, err)
	})
}
