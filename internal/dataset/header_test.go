package dataset

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // in the error; "" for none
	}{
		{"X", CheckXHeader([]byte(",designation,description,productid,imageid\n0,a,b,1,2\n")), ""},
		{"X with a BOM, cut mid-row", CheckXHeader([]byte("\uFEFF,designation,description,productid,imageid\n0,a,b")), ""},
		{"X without description", CheckXHeader([]byte(",designation,productid,imageid\n")), `missing column(s) "description"`},
		{"Y", CheckYHeader([]byte(",prdtypecode\n0,10\n")), ""},
		{"Y given an X", CheckYHeader([]byte(",designation,description,productid,imageid\n")), `missing column(s) "prdtypecode"`},
		{"CSV", CheckCSVHeader([]byte("title,body,category\nChaise,,meuble\n"), []string{"title", "body"}, "category"), ""},
		// A header alone: nothing to train on. Blank lines are no rows.
		{"CSV header alone", CheckCSVHeader([]byte("title,body,category\n\n"), []string{"title", "body"}, "category"), "no rows after the header"},
		{"Y header alone", CheckYHeader([]byte(",prdtypecode\r\n")), "no rows after the header"},
		// Blank lines that fill the head: the rows may come after it.
		{"blank lines past the head", CheckYHeader([]byte(",prdtypecode\r\n" + strings.Repeat("\r\n", HeaderBytes))[:HeaderBytes]), ""},
		{"CSV without the label", CheckCSVHeader([]byte("title,body\n"), []string{"title"}, "category"), `missing column(s) "category"`},
		{"empty", CheckCSVHeader(nil, []string{"title"}, "category"), "empty file"},
		// A header longer than the head is left to the reader.
		{"long header", CheckCSVHeader([]byte("title,"+strings.Repeat("x", HeaderBytes)), []string{"title"}, "category"), ""},
		// The index column found as ReadCSV finds it: a trailing comma
		// then names a second unnamed column, which ReadCSV refuses.
		{"index and a trailing comma", CheckCSVHeader([]byte(",title,label,\n"), []string{"title"}, "label"), `duplicate column(s) "" (index)`},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v", tc.name, tc.err)
		case tc.want != "" && (!errors.Is(tc.err, ErrBadData) || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want bad data saying %q", tc.name, tc.err, tc.want)
		}
	}
}
