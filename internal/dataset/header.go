package dataset

import (
	"bytes"
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
	header, err := headerOf(head, "CSV")
	if err != nil || header == nil {
		return err
	}
	_, _, err = csvColumns(header, textCols, labelCol, "")
	return err
}

// checkHeader parses the header row at the start of head and looks for the
// columns want names for it.
func checkHeader(head []byte, name string, want func(header []string) []string) error {
	header, err := headerOf(head, name)
	if err != nil || header == nil {
		return err
	}
	_, err = findColumns(name, header, want(header)...)
	return err
}

// headerOf parses the header row at the start of head. A header longer
// than head cannot be checked here and gives nil and no error: the reader
// checks it.
func headerOf(head []byte, name string) ([]string, error) {
	if len(head) >= HeaderBytes && !bytes.ContainsAny(head, "\r\n") {
		return nil, nil
	}
	return newSource(bytes.NewReader(head), name).header()
}
