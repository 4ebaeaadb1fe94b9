package model

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prodcat/prodcat/internal/features"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/internal/wire"
)

var toyDocs = []features.Document{
	{Title: "Chaussures de sport", Body: "baskets pour courir"},
	{Title: "Chaussures de ville en cuir"},
	{Title: "Livre de cuisine", Body: "<p>recettes faciles</p>"},
	{Title: "Livre pour enfants", Body: "contes"},
	{Title: "Piscine gonflable", Body: "jardin été"},
	{Title: "Pompe pour piscine"},
}

var toyLabels = []int{0, 0, 1, 1, 2, 2}

// build trains a model on docs and labels.
func build(tb testing.TB, docs []features.Document, y []int, codes []string, hashBits int) *Model {
	tb.Helper()
	cfg := features.DefaultConfig()
	cfg.HashBits = hashBits
	v, err := features.Fit(context.Background(), docs, cfg, 0)
	if err != nil {
		tb.Fatal(err)
	}
	x, err := v.Transform(context.Background(), docs, 0)
	if err != nil {
		tb.Fatal(err)
	}
	lm, err := linear.Train(context.Background(), x, y, len(codes), linear.DefaultParams(), 0, nil)
	if err != nil {
		tb.Fatal(err)
	}
	m := &Model{Vectorizer: v, Linear: lm, Params: []byte(`{"c":0.5}`), Metadata: map[string]string{"dataset": "toy", "commit": "abc"}}
	for _, c := range codes {
		m.Labels = append(m.Labels, Label{Code: c, EN: "name " + c})
	}
	return m
}

func toy(tb testing.TB) *Model {
	return build(tb, toyDocs, toyLabels, []string{"10", "2583", "60"}, 10)
}

func TestRoundTrip(t *testing.T) {
	m := toy(t)
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("re-encoding a decoded model changed its bytes")
	}
	if got.Metadata["dataset"] != "toy" || string(got.Params) != `{"c":0.5}` || got.Labels[1].EN != "name 2583" {
		t.Errorf("decoded header: %+v %s %+v", got.Metadata, got.Params, got.Labels)
	}
	for _, d := range toyDocs {
		a, b := m.Predict(d.Title, d.Body, 2), got.Predict(d.Title, d.Body, 2)
		if a.Best != b.Best || a.Top[1] != b.Top[1] {
			t.Errorf("%q: %+v before, %+v after", d.Title, a, b)
		}
	}
}

func TestPredict(t *testing.T) {
	m := toy(t)
	for i, d := range toyDocs {
		p := m.Predict(d.Title, d.Body, 5)
		want := m.Labels[toyLabels[i]].Code
		if p.Best.Code != want || p.Top[0] != p.Best || len(p.Top) != 3 {
			t.Errorf("%q: %+v, want best %s and 3 labels", d.Title, p, want)
		}
		if p.Top[0].Prob < p.Top[1].Prob || p.Top[1].Prob < p.Top[2].Prob {
			t.Errorf("%q: top-k not sorted: %+v", d.Title, p.Top)
		}
		if got := m.Classify(d.Title, d.Body); m.Labels[got].Code != want {
			t.Errorf("Classify(%q) = %d", d.Title, got)
		}
	}
	if p := m.Predict("", "", 0); len(p.Top) != 1 || p.Best.Prob <= 0 {
		t.Errorf("empty input: %+v", p)
	}
}

func TestPredictConcurrently(t *testing.T) {
	m := toy(t)
	want := m.Predict("Livre de cuisine", "", 3)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got := m.Predict("Livre de cuisine", "", 3); got.Best != want.Best {
					t.Errorf("concurrent prediction %+v, want %+v", got.Best, want.Best)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	b, err := toy(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n += 97 {
		if _, err := Decode(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	corrupt := bytes.Clone(b)
	corrupt[len(corrupt)/2] ^= 1
	if _, err := Decode(corrupt); !errors.Is(err, ErrChecksum) {
		t.Errorf("corrupted: err = %v, want ErrChecksum", err)
	}
	if _, err := Decode([]byte("PK\x03\x04 a zip file")); !errors.Is(err, ErrNotModel) {
		t.Errorf("foreign: err = %v, want ErrNotModel", err)
	}
	future := bytes.Clone(b[:len(b)-sha256.Size])
	future[len(magic)] = Version + 1
	sum := sha256.Sum256(future)
	if _, err := Decode(append(future, sum[:]...)); !errors.Is(err, ErrVersion) {
		t.Errorf("future version: err = %v, want ErrVersion", err)
	}
	if _, err := Read(io.LimitReader(bytes.NewReader(b), 100)); err == nil {
		t.Error("short read: no error")
	}
}

// seal appends the checksum to a file body, as Encode does, so a crafted
// file gets past the checksum to the checks behind it.
func seal(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}

// Files with a valid checksum but impossible contents fail with a precise
// error, never with NaN predictions or an allocation out of proportion.
func TestDecodeRejectsCraftedFiles(t *testing.T) {
	w := wire.NewWriter(0)
	w.Raw([]byte(magic))
	w.Int(70000)
	if _, err := Decode(seal(w.Bytes())); !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "70000") {
		t.Errorf("version 70000: err = %v, want ErrVersion naming it", err)
	}

	w = wire.NewWriter(0)
	w.Raw([]byte(magic))
	w.Int(Version)
	w.Int(maxLabels + 1)
	w.Raw(make([]byte, 3*(maxLabels+1))) // room for that many empty labels
	if _, err := Decode(seal(w.Bytes())); err == nil || !strings.Contains(err.Error(), "labels, more than") {
		t.Errorf("too many labels: err = %v", err)
	}

	m := toy(t)
	m.Linear.W[1] = float32(math.NaN())
	if _, err := Decode(m.encode()); err == nil || !strings.Contains(err.Error(), "weight 1 is NaN") {
		t.Errorf("NaN weight: err = %v", err)
	}
	m = toy(t)
	m.Linear.W[2] = 3e38
	if _, err := Decode(m.encode()); err == nil || !strings.Contains(err.Error(), "weight 2 is 3e+38") {
		t.Errorf("huge weight: err = %v", err)
	}
	// Finite calibration that overflows the logits would make every
	// probability NaN.
	m = toy(t)
	m.Linear.Scale[0], m.Linear.Offset[0] = 1e308, 1e308
	if _, err := Decode(m.encode()); err == nil || !strings.Contains(err.Error(), "class 0: calibration") {
		t.Errorf("huge calibration: err = %v", err)
	}
	// Without per-class calibration the logits are the scores over the
	// temperature.
	m2 := toy(t)
	m2.Linear.Scale, m2.Linear.Offset, m2.Linear.Temperature = nil, nil, 1e-300
	if _, err := m2.Encode(); err == nil || !strings.Contains(err.Error(), "bad temperature") {
		t.Errorf("a tiny temperature: err = %v", err)
	}
	// What Decode refuses, Encode does not write.
	if _, err := m.Encode(); err == nil || !strings.Contains(err.Error(), "class 0: calibration") {
		t.Errorf("encoding a huge calibration: err = %v", err)
	}
}

// Files written before per-class calibration (format 1, a model of the toy
// data from an earlier build) still load and predict: their probabilities
// are the softmax of the decision values over the stored temperature.
func TestDecodeFormat1(t *testing.T) {
	b, err := os.ReadFile("testdata/format1.model")
	if err != nil {
		t.Fatal(err)
	}
	if b[len(magic)] != 1 {
		t.Fatalf("testdata/format1.model is format %d", b[len(magic)])
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Linear.Scale != nil {
		t.Errorf("format 1 model has calibration %v", m.Linear.Scale)
	}
	for i, d := range toyDocs {
		p := m.Predict(d.Title, d.Body, 3)
		if want := m.Labels[toyLabels[i]].Code; p.Best.Code != want {
			t.Errorf("%q: best %s, want %s", d.Title, p.Best.Code, want)
		}
		v := m.Vectorizer.Vector(d)
		scores := m.Linear.Scores(v, nil)
		var z float64
		for _, s := range scores {
			z += math.Exp(s / m.Linear.Temperature)
		}
		want := math.Exp(scores[toyLabels[i]]/m.Linear.Temperature) / z
		if math.Abs(p.Best.Prob-want) > 1e-9 {
			t.Errorf("%q: probability %v, want %v", d.Title, p.Best.Prob, want)
		}
	}
	// Re-encoding writes the current format, which keeps the predictions.
	again, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if again[len(magic)] != Version {
		t.Errorf("re-encoded as format %d, want %d", again[len(magic)], Version)
	}
	m2, err := Decode(again)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range toyDocs {
		if a, b := m.Predict(d.Title, d.Body, 3), m2.Predict(d.Title, d.Body, 3); a.Best != b.Best {
			t.Errorf("%q: %+v from format 1, %+v re-encoded", d.Title, a.Best, b.Best)
		}
	}
}

func TestEncodeRejectsInconsistentModel(t *testing.T) {
	m := toy(t)
	m.Labels = m.Labels[:2]
	if _, err := m.Encode(); err == nil {
		t.Error("2 labels for 3 classes: no error")
	}
}

// FuzzDecode checks that no input makes Decode panic or accept a model that
// cannot predict. Corrupt inputs with a valid checksum are built by the
// fuzz function itself, so mutations reach the parser behind the checksum.
func FuzzDecode(f *testing.F) {
	b, err := toy(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, false)
	f.Add(b[:len(b)/2], false)
	f.Add(b[:len(b)-sha256.Size], true)
	f.Add([]byte(magic), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		if reseal {
			sum := sha256.Sum256(data)
			data = append(bytes.Clone(data), sum[:]...)
		}
		m, err := Decode(data)
		if err != nil {
			return
		}
		if p := m.Predict("chaussures de sport", "<b>cuir</b>", 3); len(p.Top) == 0 {
			t.Errorf("decoded model gives no prediction")
		}
	})
}

// BenchmarkPredictShortTitle measures single-core prediction on the
// product titles of the fashion split, with a model trained on its train
// split: rows/s = 1e9 / (ns/op).
func BenchmarkPredictShortTitle(b *testing.B) {
	train := readTitles(b, testenv.Split(b, "fashion", "train.csv"))
	test := readTitles(b, testenv.Split(b, "fashion", "test.csv"))
	codes := map[string]int{}
	var names []string
	y := make([]int, len(train.docs))
	for i, l := range train.labels {
		c, ok := codes[l]
		if !ok {
			c = len(names)
			codes[l] = c
			names = append(names, l)
		}
		y[i] = c
	}
	m := build(b, train.docs, y, names, features.DefaultConfig().HashBits)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		d := test.docs[i%len(test.docs)]
		m.Classify(d.Title, d.Body)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPredictTop5 is the API's call: probabilities and the top 5.
func BenchmarkPredictTop5(b *testing.B) {
	m := toy(b)
	for b.Loop() {
		m.Predict("Chaussures de sport légères pour courir", "", 5)
	}
}

type titled struct {
	docs   []features.Document
	labels []string
}

// readTitles reads a text,label CSV.
func readTitles(tb testing.TB, path string) titled {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var out titled
	for _, r := range rows[1:] {
		out.docs = append(out.docs, features.Document{Title: r[0]})
		out.labels = append(out.labels, r[1])
	}
	return out
}
