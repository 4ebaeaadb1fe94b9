package demodata

import (
	"bytes"
	"testing"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/taxonomy"
)

func TestWriteIsReadableDeterministicAndCoversEveryCode(t *testing.T) {
	var x1, y1, x2, y2 bytes.Buffer
	if err := Write(&x1, &y1, 5, 42); err != nil {
		t.Fatal(err)
	}
	if err := Write(&x2, &y2, 5, 42); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x1.Bytes(), x2.Bytes()) || !bytes.Equal(y1.Bytes(), y2.Bytes()) {
		t.Error("same seed gave different files")
	}
	ds, err := dataset.ReadRaw(bytes.NewReader(x1.Bytes()), bytes.NewReader(y1.Bytes()), dataset.Options{KnownLabels: taxonomy.Codes()})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Rejects) != 0 {
		t.Errorf("rejects: %+v", ds.Rejects)
	}
	if got, want := len(ds.Examples), 5*len(taxonomy.Codes()); got != want {
		t.Errorf("%d examples, want %d", got, want)
	}
	if got := len(dataset.Labels(ds.Examples)); got != len(taxonomy.Codes()) {
		t.Errorf("%d labels, want every code", got)
	}
	if err := Write(&x1, &y1, 1, 1); err == nil {
		t.Error("want an error for 1 row per class")
	}
}
