package dataset

import (
	"bytes"
	"fmt"
	"io"
)

// The first bytes of a file CheckXHeader, CheckYHeader and CheckCSVHeader
// need: enough for any header row.
const HeaderBytes = 64 << 10

// TextSniffBytes is how much of an uploaded data file is searched for a
// NUL byte, which says it is not text.
const TextSniffBytes = 8 << 10

// CheckXHeader reports whether head, the start of a challenge X file, has
// the columns ReadRaw reads, so a file that cannot be trained on is
// refused when it is named rather than when every run reads it.
func CheckXHeader(head []byte) error {
	return checkHeader(head, "X", func(h []string) []string {
		return []string{indexColumn(h), colDesignation, colDescription, colProductID}
	})
}

// CheckYHeader is CheckXHeader for a challenge Y file.
func CheckYHeader(head []byte) error {
	return checkHeader(head, "Y", func(h []string) []string { return []string{indexColumn(h), colLabel} })
}

// CheckCSVHeader is CheckXHeader for a generic CSV read by ReadCSV with
// these columns.
func CheckCSVHeader(head []byte, textCols []string, labelCol string) error {
	header, rows, err := headerOf(head, "CSV")
	if err != nil || header == nil {
		return err
	}
	if _, _, err = csvColumns(header, textCols, labelCol, ""); err != nil {
		return err
	}
	return checkRows(rows, "CSV")
}

// checkHeader parses the header row at the start of head and looks for the
// columns want names for it.
func checkHeader(head []byte, name string, want func(header []string) []string) error {
	header, rows, err := headerOf(head, name)
	if err != nil || header == nil {
		return err
	}
	if _, err = findColumns(name, header, want(header)...); err != nil {
		return err
	}
	return checkRows(rows, name)
}

// checkRows refuses a file of a header alone: it has nothing to train on
// or predict.
func checkRows(rows bool, name string) error {
	if !rows {
		return fmt.Errorf("dataset: %s: no rows after the header: %w", name, ErrBadData)
	}
	return nil
}

// headerOf parses the header row at the start of head, and says whether a
// row follows it (a head cut short in a row has that row). A header longer
// than head cannot be checked here and gives nil and no error: the reader
// checks it.
func headerOf(head []byte, name string) (header []string, rows bool, err error) {
	if len(head) >= HeaderBytes && !bytes.ContainsAny(head, "\r\n") {
		return nil, false, nil
	}
	src := newSource(bytes.NewReader(head), name)
	if header, err = src.header(); err != nil {
		return nil, false, err
	}
	// A full head may end in blank lines before the first row.
	_, err = src.r.Read()
	return header, err != io.EOF || len(head) >= HeaderBytes, nil
}
