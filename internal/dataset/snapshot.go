package dataset

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Snapshot format: JSON Lines. The first line is a header
//
//	{"format":"prodcat-dataset","version":1,"examples":N,"digest":"<Digest>"}
//
// followed by exactly N lines, one example each:
//
//	{"id":"…","title":"…","body":"…","label":"…"}
//
// JSON rather than CSV because it carries any text unchanged (CSV readers
// turn "\r\n" inside quoted fields into "\n") and is read by any tool. The
// count and digest in the header let ReadSnapshot detect a truncated or
// altered file.
const (
	snapshotFormat  = "prodcat-dataset"
	snapshotVersion = 1
)

type snapshotHeader struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Examples int    `json:"examples"`
	Digest   string `json:"digest"`
}

// WriteSnapshot writes ex to w in the snapshot format, in the order given.
// It refuses invalid UTF-8, which JSON would carry altered, so the file
// would not match its digest; the readers never produce it.
func WriteSnapshot(w io.Writer, ex []Example) error {
	for i, e := range ex {
		if !utf8.ValidString(e.ID) || !utf8.ValidString(e.Title) || !utf8.ValidString(e.Body) || !utf8.ValidString(e.Label) {
			return fmt.Errorf("dataset: write snapshot example %d (id %q): invalid UTF-8: %w", i+1, e.ID, ErrBadData)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // descriptions are full of HTML; keep them readable
	h := snapshotHeader{Format: snapshotFormat, Version: snapshotVersion, Examples: len(ex), Digest: Digest(ex)}
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("dataset: write snapshot header: %w", err)
	}
	for i := range ex {
		if err := enc.Encode(&ex[i]); err != nil {
			return fmt.Errorf("dataset: write snapshot example %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot reads a file written by WriteSnapshot, checking its format,
// example count and digest. Content errors wrap ErrBadData.
func ReadSnapshot(r io.Reader) ([]Example, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, snapshotErr("header", err)
	}
	if h.Format != snapshotFormat {
		return nil, fmt.Errorf("dataset: not a snapshot (format %q): %w", h.Format, ErrBadData)
	}
	if h.Version != snapshotVersion {
		return nil, fmt.Errorf("dataset: snapshot version %d, want %d: %w", h.Version, snapshotVersion, ErrBadData)
	}
	if h.Examples < 0 {
		return nil, fmt.Errorf("dataset: snapshot header: negative example count: %w", ErrBadData)
	}
	ex := make([]Example, 0, min(h.Examples, 1<<20))
	for i := 0; i < h.Examples; i++ {
		var e Example
		if err := dec.Decode(&e); err != nil {
			return nil, snapshotErr(fmt.Sprintf("example %d of %d", i+1, h.Examples), err)
		}
		ex = append(ex, e)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil || isSyntax(err) {
			return nil, fmt.Errorf("dataset: snapshot: data after %d examples: %w", h.Examples, ErrBadData)
		}
		return nil, fmt.Errorf("dataset: read snapshot: %w", err)
	}
	if d := Digest(ex); d != h.Digest {
		return nil, fmt.Errorf("dataset: snapshot digest %s does not match its header %s: %w", d, h.Digest, ErrBadData)
	}
	return ex, nil
}

func snapshotErr(what string, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("dataset: snapshot truncated at %s: %w", what, ErrBadData)
	}
	if isSyntax(err) {
		return fmt.Errorf("dataset: snapshot %s: %v: %w", what, err, ErrBadData)
	}
	return fmt.Errorf("dataset: read snapshot %s: %w", what, err)
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te)
}
