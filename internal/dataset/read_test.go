package dataset

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// The fixtures below are made up; they only mimic the shape of the
// challenge's files.
const xHeader = ",designation,description,productid,imageid\n"

func readRaw(t *testing.T, x, y string, opts Options) (*Dataset, error) {
	t.Helper()
	var yr io.Reader
	if y != "" {
		yr = strings.NewReader(y)
	}
	return ReadRaw(strings.NewReader(x), yr, opts)
}

func TestReadRawHappyPath(t *testing.T) {
	x := xHeader +
		"0,Lampe de chevet en bois,\"<p>Une lampe \"\"douce\"\",\nsur deux lignes</p>\n<ul><li>bois</li></ul>\",1001,9001\n" +
		"1,Stylo plume bleu,,1002,9002\n" +
		"2,Tapis de souris,<b>noir</b>,1003,9003\n"
	// Y rows in a different order than X: the join is on the index.
	y := ",prdtypecode\n2,50\n0,1560\n1,2522\n"
	d, err := readRaw(t, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{ID: "1001", Title: "Lampe de chevet en bois", Body: "<p>Une lampe \"douce\",\nsur deux lignes</p>\n<ul><li>bois</li></ul>", Label: "1560"},
		{ID: "1002", Title: "Stylo plume bleu", Body: "", Label: "2522"},
		{ID: "1003", Title: "Tapis de souris", Body: "<b>noir</b>", Label: "50"},
	}
	assertExamples(t, d.Examples, want)
	if len(d.Rejects) != 0 {
		t.Errorf("rejects = %+v, want none", d.Rejects)
	}
}

func TestReadRawBOMAndCRLF(t *testing.T) {
	x := "\uFEFF,designation,description,productid,imageid\r\n" +
		"0,Tasse en grès,\"ligne un\r\nligne deux\",11,1\r\n" +
		"1,Bol à soupe,,12,2\r\n"
	y := "\uFEFF,prdtypecode\r\n0,2060\r\n1,2060\r\n"
	d, err := readRaw(t, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{ID: "11", Title: "Tasse en grès", Body: "ligne un\nligne deux", Label: "2060"},
		{ID: "12", Title: "Bol à soupe", Label: "2060"},
	}
	assertExamples(t, d.Examples, want)
}

func TestReadRawUnlabelled(t *testing.T) {
	x := xHeader + "0,Puzzle 1000 pièces,,77,1\n1,Ballon de plage,gonflable,78,2\n"
	d, err := readRaw(t, x, "", Options{KnownLabels: []string{"10"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2 || d.Examples[0].Label != "" || d.Examples[1].ID != "78" {
		t.Fatalf("examples = %+v", d.Examples)
	}
}

// TestReadRawRejects covers every reject reason: each case has one bad row
// among good ones, and checks its line, ID, kind and reason.
func TestReadRawRejects(t *testing.T) {
	good := "0,Chaise pliante,,500,1\n"
	goodY := "0,1560\n"
	tests := []struct {
		name       string
		x, y       string // rows after the headers
		opts       Options
		line       int
		id, kind   string
		reasonPart string
	}{
		{"wrong field count", "1,Table,,501\n", "", Options{}, 3, "", KindFieldCount, "got 4, want 5"},
		{"bare quote", "1,Table \"basse,,501,1\n", "", Options{}, 3, "", KindMalformed, "bare \""},
		{"bad quote", "1,\"Table\"x,,501,1\n", "", Options{}, 3, "", KindMalformed, "extraneous or missing \""},
		{"empty index", " ,Table,,501,1\n", "", Options{}, 3, "501", KindMissingID, "empty index"},
		{"empty productid", "1,Table,,,1\n", "1,1560\n", Options{}, 3, "", KindMissingID, "empty productid"},
		{"duplicate index", "0,Table,,501,1\n", "", Options{}, 3, "501", KindDuplicateIndex, "duplicate index 0, first at line 2"},
		{"duplicate productid", "1,Chaise pliante bis,,500,1\n", "1,1560\n", Options{}, 3, "500", KindDuplicateProduct, "duplicate productid 500, first at line 2"},
		{"empty designation and description", "1,  ,<p> </p>,501,1\n", "1,1560\n", Options{}, 3, "501", KindEmptyText, "no letter or digit in designation or description"},
		{"invalid UTF-8 strict", "1,Table \xff,,501,1\n", "1,1560\n", Options{StrictUTF8: true}, 3, "501", KindInvalidUTF8, "invalid UTF-8 in designation"},
		// IDs are keys: never repaired, since two repaired IDs could collide.
		{"invalid UTF-8 in productid", "1,Table,,5\xff1,1\n", "1,1560\n", Options{}, 3, "", KindInvalidUTF8, "invalid UTF-8 in productid"},
		{"no letter or digit", "1,---,<br>&nbsp;,501,1\n", "1,1560\n", Options{}, 3, "501", KindEmptyText, "no letter or digit in designation or description"},
		{"field too long", "1,Table,01234567890123456789,501,1\n", "1,1560\n", Options{MaxFieldBytes: 16}, 3, "501", KindTooLong, "description is 20 bytes, limit 16"},
		{"missing label", "1,Table,,501,1\n", "1, \n", Options{}, 3, "501", KindMissingLabel, "missing label"},
		{"unknown label", "1,Table,,501,1\n", "1,9999\n", Options{KnownLabels: []string{"1560"}}, 3, "501", KindUnknownLabel, `unknown label "9999"`},
		{"index not in Y", "1,Table,,501,1\n", "", Options{}, 3, "501", KindNotInY, "index 1 has no row in Y"},
		{"duplicate index in Y", "1,Table,,501,1\n", "1,1560\n1,2060\n", Options{}, 3, "501", KindDuplicateInY, "index 1 appears twice in Y (lines 3 and 4)"},
		{"index only in Y", "", "7,1560\n", Options{}, 0, "", KindOnlyInY, "Y line 3: index 7 has no well-formed row in X"},
		{"malformed Y row", "", "5,\"1560\n", Options{}, 0, "", KindMalformed, "Y line 3: malformed CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := readRaw(t, xHeader+good+tt.x, ",prdtypecode\n"+goodY+tt.y, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Examples) != 1 || d.Examples[0].ID != "500" {
				t.Errorf("examples = %+v, want only 500", d.Examples)
			}
			if len(d.Rejects) != 1 {
				t.Fatalf("rejects = %+v, want 1", d.Rejects)
			}
			r := d.Rejects[0]
			if r.Line != tt.line || r.ID != tt.id || r.Kind != tt.kind || !strings.Contains(r.Reason, tt.reasonPart) {
				t.Errorf("reject = %+v, want line %d id %q kind %q reason containing %q", r, tt.line, tt.id, tt.kind, tt.reasonPart)
			}
		})
	}
}

func TestReadRawRepairsUTF8(t *testing.T) {
	x := xHeader + "0,Caf\xe9 moulu,d\xe9licieux,10,1\n1,Th\xc3\xa9 vert,,11,2\n"
	d, err := readRaw(t, x, ",prdtypecode\n0,1940\n1,1940\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{
		{ID: "10", Title: "Caf\uFFFD moulu", Body: "d\uFFFDlicieux", Label: "1940"},
		{ID: "11", Title: "Thé vert", Label: "1940"},
	})
	if len(d.Repairs) != 2 || d.Repairs[0].Line != 2 || d.Repairs[1].Reason != "invalid UTF-8 in description replaced with U+FFFD" {
		t.Errorf("repairs = %+v", d.Repairs)
	}
	if len(d.Rejects) != 0 {
		t.Errorf("rejects = %+v", d.Rejects)
	}
}

// A file where most rows are not UTF-8 is in another encoding: repairing
// every accent would train on text that serving never sees.
func TestReadRawRejectsOtherEncodings(t *testing.T) {
	x := xHeader + "0,Caf\xe9 moulu,,10,1\n1,Th\xe9 vert,,11,2\n2,Sucre,,12,3\n"
	d, err := readRaw(t, x, ",prdtypecode\n0,1940\n1,1940\n2,1940\n", Options{})
	if !errors.Is(err, ErrBadData) || d == nil {
		t.Fatalf("d = %v, err = %v; want the dataset and ErrBadData", d, err)
	}
	for _, want := range []string{"2 of 3 rows have invalid UTF-8 (the first on line 2)", "iconv"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to contain %q", err, want)
		}
	}
}

// A quote that is never closed would swallow the rest of the file into one
// malformed record; that fails the read instead.
func TestReadUnclosedQuote(t *testing.T) {
	var x, y, g strings.Builder
	x.WriteString(xHeader)
	y.WriteString(",prdtypecode\n")
	g.WriteString("text,label\n")
	for i := range 50 {
		title := "Lampe"
		if i == 10 {
			title = `"Ecran 27 pouces`
		}
		fmt.Fprintf(&x, "%d,%s,,%d,%d\n", i, title, i, i)
		fmt.Fprintf(&y, "%d,10\n", i)
		fmt.Fprintf(&g, "%s,10\n", title)
	}
	want := "line 12: a malformed record runs from there to the end of the file (line 51), most likely a quote that is never closed"
	if _, err := readRaw(t, x.String(), y.String(), Options{}); !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "X "+want) {
		t.Errorf("raw: err = %v, want ErrBadData with %q", err, want)
	}
	if _, err := ReadCSV(strings.NewReader(g.String()), []string{"text"}, "label", Options{}); !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), want) {
		t.Errorf("csv: err = %v, want ErrBadData with %q", err, want)
	}
}

// An unclosed quote right after another multi-line malformed record is
// caught too: the record read ahead is checked like any other.
func TestReadUnclosedQuoteAfterMalformed(t *testing.T) {
	var x, y strings.Builder
	x.WriteString(xHeader)
	y.WriteString(",prdtypecode\n")
	for i := range 50 {
		switch i {
		case 10:
			fmt.Fprintf(&x, "%d,\"Ecran\n27\" pouces,,%d,%d\n", i, i, i) // closed, then a stray character
		case 11:
			fmt.Fprintf(&x, "%d,\"Souris,,%d,%d\n", i, i, i) // never closed
		default:
			fmt.Fprintf(&x, "%d,Lampe,,%d,%d\n", i, i, i)
		}
		fmt.Fprintf(&y, "%d,10\n", i)
	}
	_, err := readRaw(t, x.String(), y.String(), Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "line 14: a malformed record runs from there to the end of the file") {
		t.Errorf("err = %v, want ErrBadData about line 14", err)
	}
}

// A quote closed by a later line's quote loses the lines between as one
// malformed record, which names them; the record after it is still read.
func TestReadRawQuoteClosedLater(t *testing.T) {
	x := xHeader +
		"0,\"Ecran 27 pouces,,1,1\n" + // line 2: opens a quote
		"1,Clavier,,2,2\n" + // line 3
		"2,\"Souris\" sans fil,,3,3\n" + // line 4: closes it, then a bare quote
		"3,Tapis,,4,4\n" // line 5
	y := ",prdtypecode\n0,10\n1,10\n2,10\n3,10\n"
	d, err := readRaw(t, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 1 || d.Examples[0].ID != "4" {
		t.Fatalf("examples = %+v", d.Examples)
	}
	if len(d.Rejects) == 0 || d.Rejects[0].Line != 2 || !strings.Contains(d.Rejects[0].Reason, "malformed CSV at lines 2 to 4") {
		t.Errorf("rejects = %+v", d.Rejects)
	}
}

// Reading goes on after a malformed row, and lines count physical lines, so
// a multi-line record moves the next record's line.
func TestReadRawContinuesAfterMalformed(t *testing.T) {
	x := xHeader +
		"0,Tente,\"trois\nlignes\nde texte\",1,1\n" + // lines 2-4
		"1,Sac \"de\" couchage,,2,2\n" + // line 5: bare quote
		"2,Matelas gonflable,,3,3\n" + // line 6
		"3,Lampe,,4\n" // line 7: 4 fields
	y := ",prdtypecode\n0,2583\n1,2583\n2,2583\n3,2583\n"
	d, err := readRaw(t, x, y, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2 || d.Examples[1].ID != "3" {
		t.Fatalf("examples = %+v", d.Examples)
	}
	// The Y row of the unreadable line 5 is reported too; the index of the
	// line with a wrong field count could still be read.
	want := []Reject{
		{Line: 5, Kind: KindMalformed, Reason: `malformed CSV at line 5, column 7: bare " in non-quoted-field`},
		{Line: 7, Kind: KindFieldCount, Reason: "wrong number of fields: got 4, want 5"},
		{Line: 0, Kind: KindOnlyInY, Reason: "Y line 3: index 1 has no well-formed row in X"},
	}
	if len(d.Rejects) != len(want) {
		t.Fatalf("rejects = %+v, want %+v", d.Rejects, want)
	}
	for i := range want {
		if d.Rejects[i] != want[i] {
			t.Errorf("reject %d = %+v, want %+v", i, d.Rejects[i], want[i])
		}
	}
}

func TestReadRawErrors(t *testing.T) {
	tests := []struct {
		name, x, y string
		opts       Options
		msg        string
	}{
		{"empty X", "", ",prdtypecode\n", Options{}, "X: empty file, no header"},
		{"missing X columns", ",designation,imageid\n0,a,1\n", ",prdtypecode\n0,10\n", Options{}, `missing column(s) "description", "productid"`},
		{"missing index", "designation,description,productid\na,b,1\n", ",prdtypecode\n0,10\n", Options{}, `missing column(s) "" (index)`},
		{"missing Y label column", xHeader + "0,a,,1,1\n", ",label\n0,10\n", Options{}, `Y header ",label": missing column(s) "prdtypecode"`},
		{"header only", xHeader, ",prdtypecode\n", Options{}, "dataset: no rows"},
		{"no usable rows", xHeader + "0,,,1,1\n1,,,2,2\n2,a,,3,3\n", ",prdtypecode\n0,10\n1,10\n2,99\n",
			Options{KnownLabels: []string{"10"}}, "dataset: no usable rows (3 rejected: 2 empty text, 1 unknown label)"},
		{"too many rejects", xHeader + "0,a,,1,1\n1,,,2,2\n2,c,,3,3\n", ",prdtypecode\n0,10\n1,10\n2,10\n",
			Options{MaxRejectFraction: 0.25}, "1 of 3 rows rejected (33.3%), above the limit of 25.0% (1 empty text)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readRaw(t, tt.x, tt.y, tt.opts)
			if !errors.Is(err, ErrBadData) {
				t.Fatalf("err = %v, want ErrBadData", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestReadRawThresholdKeepsDataset(t *testing.T) {
	x := xHeader + "0,a,,1,1\n1,,,2,2\n"
	d, err := readRaw(t, x, ",prdtypecode\n0,10\n1,10\n", Options{MaxRejectFraction: 0.1})
	if !errors.Is(err, ErrBadData) || d == nil || len(d.Rejects) != 1 {
		t.Fatalf("d = %+v, err = %v; want the dataset with its reject and ErrBadData", d, err)
	}
	// At the limit is fine.
	if _, err := readRaw(t, x, ",prdtypecode\n0,10\n1,10\n", Options{MaxRejectFraction: 0.5}); err != nil {
		t.Errorf("reject fraction equal to the limit: %v", err)
	}
}

func TestReadRawIOError(t *testing.T) {
	boom := errors.New("connection reset")
	x := io.MultiReader(strings.NewReader(xHeader+"0,a,,1,1\n"), iotest.ErrReader(boom))
	_, err := ReadRaw(x, strings.NewReader(",prdtypecode\n0,10\n"), Options{})
	if !errors.Is(err, boom) || errors.Is(err, ErrBadData) {
		t.Fatalf("err = %v, want the I/O error and not ErrBadData", err)
	}
}

func TestReadCSV(t *testing.T) {
	in := "title,text,brand,label\n" +
		"Chemise lin,\"manches longues\",Acme,Topwear\n" +
		",,,Topwear\n" + // empty text
		"Jupe,,,\n" + // missing label
		"Robe,courte,Zed,Dress\n" +
		",seulement la description,,Dress\n" // first column empty, others not: kept
	d, err := ReadCSV(strings.NewReader(in), []string{"title", "text", "brand"}, "label", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{ID: "1", Title: "Chemise lin", Body: "manches longues\nAcme", Label: "Topwear"},
		{ID: "4", Title: "Robe", Body: "courte\nZed", Label: "Dress"},
		{ID: "5", Title: "", Body: "seulement la description", Label: "Dress"},
	}
	assertExamples(t, d.Examples, want)
	wantRej := []Reject{
		{Line: 3, ID: "2", Kind: KindEmptyText, Reason: "no letter or digit in title, text, brand"},
		{Line: 4, ID: "3", Kind: KindMissingLabel, Reason: "missing label"},
	}
	if len(d.Rejects) != len(wantRej) {
		t.Fatalf("rejects = %+v, want %+v", d.Rejects, wantRej)
	}
	for i := range wantRej {
		if d.Rejects[i] != wantRej[i] {
			t.Errorf("reject %d = %+v, want %+v", i, d.Rejects[i], wantRej[i])
		}
	}
}

// Rows that cannot be read keep their row number as ID when the rows are
// named by it, so batch predictions can say which row failed. A record an
// unclosed quote runs over several lines is one row.
func TestReadCSVRowNumbersOfUnreadableRows(t *testing.T) {
	in := "text,label\n" +
		"Chemise,Topwear\n" + // row 1
		"Jupe,Bottom,extra\n" + // row 2: field count
		"\"Robe \"courte\",Dress\n" + // row 3: bad quote
		"Jean,Bottom\n" // row 4
	d, err := ReadCSV(strings.NewReader(in), []string{"text"}, "label", Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{{ID: "1", Title: "Chemise", Label: "Topwear"}, {ID: "4", Title: "Jean", Label: "Bottom"}})
	if len(d.Rejects) != 2 || d.Rejects[0].ID != "2" || d.Rejects[0].Kind != KindFieldCount || d.Rejects[1].ID != "3" || d.Rejects[1].Kind != KindMalformed {
		t.Fatalf("rejects = %+v, want rows 2 (field count) and 3 (malformed)", d.Rejects)
	}
	// With an ID column, an unreadable row has no ID.
	d, err = ReadCSV(strings.NewReader("id,text,label\n5,Jupe,Bottom,extra\n6,Jean,Bottom\n"), []string{"text"}, "label", Options{IDColumn: "id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rejects) != 1 || d.Rejects[0].ID != "" {
		t.Fatalf("rejects = %+v, want one without an ID", d.Rejects)
	}
}

// A quote left open hides the lines up to where the CSV reader resyncs in
// one malformed record: they count as rejected rows against the limit, so
// losing them is not taken for one bad row.
func TestRejectLimitCountsRowsHiddenByAnOpenQuote(t *testing.T) {
	var b strings.Builder
	b.WriteString("text,label\n")
	for i := range 20 {
		if i == 5 {
			b.WriteString("\"open quote,x\nrow a,x\nrow b,x\nrow c\" then text,x\n") // one record over lines 7 to 10
			continue
		}
		fmt.Fprintf(&b, "row %d,x\n", i)
	}
	// 19 rows read, 1 rejected: 5% of records, but 4 of 23 rows (17%).
	_, err := ReadCSV(strings.NewReader(b.String()), []string{"text"}, "label", Options{MaxRejectFraction: 0.1})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "4 of 23 rows rejected (17.4%, counting as rows the 3 lines") {
		t.Fatalf("err = %v, want the hidden rows counted", err)
	}
	if _, err := ReadCSV(strings.NewReader(b.String()), []string{"text"}, "label", Options{MaxRejectFraction: 0.2}); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
}

func TestReadCSVIDColumns(t *testing.T) {
	// A pandas index column is used as the ID.
	d, err := ReadCSV(strings.NewReader(",text,label\n7,a,x\n7,b,y\n9,c,x\n"), []string{"text"}, "label", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2 || d.Examples[1].ID != "9" || len(d.Rejects) != 1 ||
		d.Rejects[0].Reason != "duplicate id 7, first at line 2" {
		t.Errorf("d = %+v", d)
	}
	// An explicit ID column; unlabelled.
	d, err = ReadCSV(strings.NewReader("sku,text\nA1,a\nB2,b\n"), []string{"text"}, "", Options{IDColumn: "sku"})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{{ID: "A1", Title: "a"}, {ID: "B2", Title: "b"}})
	// An unnamed column that is not the first (a header's trailing comma)
	// is not an ID: rows are numbered.
	d, err = ReadCSV(strings.NewReader("text,label,\na,x,\nb,y,\n"), []string{"text"}, "label", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2 || !d.RowIDs {
		t.Errorf("trailing unnamed column: d = %+v, want 2 examples with row numbers as IDs", d)
	}
	// pandas' "Unnamed: 0" first is the index.
	d, err = ReadCSV(strings.NewReader("Unnamed: 0,text,label\n5,a,x\n6,b,y\n"), []string{"text"}, "label", Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{{ID: "5", Title: "a", Label: "x"}, {ID: "6", Title: "b", Label: "y"}})
	// An ID that is not UTF-8 rejects its row; the row's text says nothing
	// of letters or digits rejects it too.
	d, err = ReadCSV(strings.NewReader("sku,text\nA1,a\nB\xff,b\nC3,-- <br>\n"), []string{"text"}, "", Options{IDColumn: "sku"})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{{ID: "A1", Title: "a"}})
	if len(d.Rejects) != 2 || d.Rejects[0].Kind != KindInvalidUTF8 || d.Rejects[0].Reason != "invalid UTF-8 in sku" ||
		d.Rejects[1].Kind != KindEmptyText || d.Rejects[1].Reason != "no letter or digit in text" {
		t.Errorf("rejects = %+v", d.Rejects)
	}
	// A missing explicit ID column is a schema error.
	_, err = ReadCSV(strings.NewReader("text\na\n"), []string{"text"}, "", Options{IDColumn: "sku"})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), `missing column(s) "sku"`) {
		t.Errorf("err = %v", err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("text,label\na,b\n"), nil, "label", Options{})
	if err == nil || errors.Is(err, ErrBadData) {
		t.Errorf("no text columns: err = %v, want a usage error", err)
	}
	// Each column plays one part: a label read as text would leak the
	// answer into the features.
	for _, tc := range []struct {
		text  []string
		label string
		opts  Options
		want  string
	}{
		{[]string{"text", "label"}, "label", Options{}, `column "label" is given as both text and label`},
		{[]string{"text", "text"}, "label", Options{}, `text column "text" is given twice`},
		{[]string{"text", ""}, "label", Options{}, "text column 2 of 2 has an empty name"},
		{[]string{"text"}, "label", Options{IDColumn: "text"}, `column "text" is given as both text and ID`},
		{[]string{"text"}, "label", Options{IDColumn: "label"}, `column "label" is given as both label and ID`},
	} {
		_, err = ReadCSV(strings.NewReader("text,label\na,b\n"), tc.text, tc.label, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("columns %q, label %q, %+v: err = %v, want %q", tc.text, tc.label, tc.opts, err, tc.want)
		}
	}
	_, err = ReadCSV(strings.NewReader("Unnamed: 0,label\na,b\n"), []string{"Unnamed: 0"}, "label", Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "is the ID column") {
		t.Errorf("index column as text: err = %v", err)
	}
	_, err = ReadCSV(strings.NewReader("text,label\na,b\n"), []string{"title", "text"}, "category", Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), `missing column(s) "title", "category"`) {
		t.Errorf("missing columns: err = %v", err)
	}
	_, err = ReadCSV(strings.NewReader("text,text,label\na,b,c\n"), []string{"text"}, "label", Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), `duplicate column(s) "text"`) {
		t.Errorf("duplicate column: err = %v", err)
	}
	_, err = ReadCSV(strings.NewReader("\"text,label\na,b\n"), []string{"text"}, "label", Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "CSV header") {
		t.Errorf("malformed header: err = %v", err)
	}
	// Classic Mac OS line ends make the whole file one header row: the
	// error says so, in a few hundred bytes rather than the file's size.
	cr := "text,label\r" + strings.Repeat("a long product title,shoes\r", 20000)
	_, err = ReadCSV(strings.NewReader(cr), []string{"text"}, "label", Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "bare CR") || len(err.Error()) > 600 {
		t.Errorf("CR line ends: err (%d bytes) = %.1000v", len(err.Error()), err)
	}
	// A file separated by semicolons reads as one column: the error says so.
	_, err = ReadCSV(strings.NewReader("text;label\nchaise;meuble\n"), []string{"text"}, "label", Options{})
	if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), `separated by ";"`) {
		t.Errorf("semicolons: err = %v", err)
	}
}

func assertExamples(t *testing.T, got, want []Example) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d examples %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("example %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadRawPandasIndexName(t *testing.T) {
	x := "Unnamed: 0,designation,description,productid,imageid\n3,Gourde inox,,42,1\n"
	d, err := readRaw(t, x, "Unnamed: 0,prdtypecode\n3,1302\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{{ID: "42", Title: "Gourde inox", Label: "1302"}})
}

// A description alone is a product, as the API takes it.
func TestReadRawDescriptionOnly(t *testing.T) {
	d, err := readRaw(t, xHeader+"0,,<p>Tondeuse à gazon thermique</p>,10,1\n", ",prdtypecode\n0,2585\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertExamples(t, d.Examples, []Example{{ID: "10", Body: "<p>Tondeuse à gazon thermique</p>", Label: "2585"}})
}

// With a Y file, the rows an open quote hides in X are counted once, as Y
// rows with no X row, not again as hidden lines.
func TestRejectLimitCountsHiddenRawRowsOnce(t *testing.T) {
	var x, y strings.Builder
	x.WriteString(xHeader)
	y.WriteString(",prdtypecode\n")
	for i := range 40 {
		if i == 5 {
			fmt.Fprintf(&x, "%d,\"Tente ouverte,,%d,%d\n", i, i, i) // swallows the next rows up to a closing quote
		} else if i == 9 {
			fmt.Fprintf(&x, "%d,Tente\" fermée,,%d,%d\n", i, i, i)
		} else {
			fmt.Fprintf(&x, "%d,Tente %d,,%d,%d\n", i, i, i, i)
		}
		fmt.Fprintf(&y, "%d,2583\n", i)
	}
	d, err := readRaw(t, x.String(), y.String(), Options{MaxRejectFraction: 0.2})
	if err != nil {
		t.Fatalf("%v (rejects %+v)", err, d.Rejects)
	}
	if lost := 40 - len(d.Examples); lost < 2 || lost > 6 {
		t.Errorf("%d rows read of 40, rejects %+v", len(d.Examples), d.Rejects)
	}
}
