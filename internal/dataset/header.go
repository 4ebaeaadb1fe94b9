package dataset

import (
	"bytes"
	"fmt"
	"slices"
)

// The first bytes of a file CheckXHeader, CheckYHeader and CheckCSVHeader
// need: enough for any header row.
const HeaderBytes = 64 << 10

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
	return checkHeader(head, "CSV", func([]string) []string { return append(slices.Clone(textCols), labelCol) })
}

// checkHeader parses the header row at the start of head and looks for the
// columns want names for it.
func checkHeader(head []byte, name string, want func(header []string) []string) error {
	if len(head) >= HeaderBytes && !bytes.ContainsAny(head, "\r\n") {
		return fmt.Errorf("dataset: %s: no line end in the first %d bytes; is it a CSV file?: %w", name, HeaderBytes, ErrBadData)
	}
	header, err := newSource(bytes.NewReader(head), name).header()
	if err != nil {
		return err
	}
	_, err = findColumns(name, header, want(header)...)
	return err
}
