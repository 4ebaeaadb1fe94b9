package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prodcat/prodcat/internal/text"
)

// Column names of the challenge's raw files.
const (
	colDesignation = "designation"
	colDescription = "description"
	colProductID   = "productid"
	colLabel       = "prdtypecode"
)

// ReadRaw reads the challenge's raw format: x is an X_*.csv file (header
// ",designation,description,productid,imageid", the first column being an
// unnamed row index) and y the matching Y_*.csv (header ",prdtypecode"),
// joined on the index column, not on position. y may be nil for unlabelled
// input such as X_test; Label is then "".
//
// Rows that cannot be used become Rejects; reading continues after malformed
// rows as far as encoding/csv allows. The error wraps ErrBadData when a
// header or required column is missing, when no usable row remains, or when
// the reject fraction passes opts.MaxRejectFraction; in the last two cases
// the returned Dataset is still filled in so the caller can report the
// rejects. Other errors come from reading x or y.
func ReadRaw(x, y io.Reader, opts Options) (*Dataset, error) {
	v := newValidator(opts)
	var ys map[string]*yEntry
	if y != nil {
		var err error
		if ys, err = readY(y, v); err != nil {
			return nil, err
		}
	}

	src := newSource(x, "X")
	header, err := src.header()
	if err != nil {
		return nil, err
	}
	cols, err := findColumns("X", header, indexColumn(header), colDesignation, colDescription, colProductID)
	if err != nil {
		return nil, err
	}
	iIdx, iTitle, iBody, iPID := cols[0], cols[1], cols[2], cols[3]

	indexLine := make(map[string]int)   // index -> first line, over well-formed rows
	productLine := make(map[string]int) // productid -> line, over accepted rows
	for {
		rec, line, problem, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if problem != "" {
			v.reject(line, "", KindMalformed, problem)
			continue
		}
		if len(rec) != len(header) {
			if iIdx < len(rec) {
				// Keep its Y row from being reported as a second reject.
				if idx := strings.TrimSpace(rec[iIdx]); idx != "" && indexLine[idx] == 0 {
					indexLine[idx] = line
				}
			}
			v.reject(line, "", KindFieldCount, fmt.Sprintf("wrong number of fields: got %d, want %d", len(rec), len(header)))
			continue
		}
		idx := strings.TrimSpace(rec[iIdx])
		id := strings.TrimSpace(rec[iPID])
		if idx == "" {
			v.reject(line, id, KindMissingID, "empty index")
			continue
		}
		// The index is the join key, so it must be unique whatever
		// happens to the rows that carry it.
		if first, ok := indexLine[idx]; ok {
			v.reject(line, id, KindDuplicateIndex, fmt.Sprintf("duplicate index %s, first at line %d", idx, first))
			continue
		}
		indexLine[idx] = line
		if id == "" {
			v.reject(line, id, KindMissingID, "empty productid")
			continue
		}
		if !v.validID(line, "productid", id) {
			continue
		}
		title, ok := v.text(line, id, colDesignation, rec[iTitle])
		if !ok {
			continue
		}
		body, ok := v.text(line, id, colDescription, rec[iBody])
		if !ok {
			continue
		}
		// A description alone is a product, as the API takes it.
		if !text.HasText(title) && !text.HasText(body) {
			v.reject(line, id, KindEmptyText, "no letter or digit in designation or description")
			continue
		}
		label := ""
		if ys != nil {
			ye, found := ys[idx]
			switch {
			case !found:
				v.reject(line, id, KindNotInY, fmt.Sprintf("index %s has no row in Y", idx))
				continue
			case ye.dupLine != 0:
				ye.used = true
				v.reject(line, id, KindDuplicateInY, fmt.Sprintf("index %s appears twice in Y (lines %d and %d)", idx, ye.line, ye.dupLine))
				continue
			}
			ye.used = true
			if label, ok = v.label(line, id, ye.label); !ok {
				continue
			}
		}
		if first, ok := productLine[id]; ok {
			v.reject(line, id, KindDuplicateProduct, fmt.Sprintf("duplicate productid %s, first at line %d", id, first))
			continue
		}
		productLine[id] = line
		v.ds.Examples = append(v.ds.Examples, Example{ID: id, Title: title, Body: body, Label: label})
	}

	// Y rows with no X row: reported after the X rows, in Y line order.
	var orphans []*yEntry
	for _, ye := range ys {
		if !ye.used && indexLine[ye.index] == 0 {
			orphans = append(orphans, ye)
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].line < orphans[j].line })
	for _, ye := range orphans {
		v.reject(0, "", KindOnlyInY, fmt.Sprintf("Y line %d: index %s has no well-formed row in X", ye.line, ye.index))
	}
	if y == nil {
		// With a Y file, each X row a malformed record hid is counted
		// already, as a Y row with no X row.
		v.hidden = src.spanned
	}
	return v.finish()
}

type yEntry struct {
	index   string
	label   string
	line    int // first line in Y
	dupLine int // line of a second row with the same index, or 0
	used    bool
}

// readY reads a Y file into a map from index to label. Malformed Y rows are
// recorded as Line 0 rejects; the X rows they were meant for are then
// rejected as KindNotInY.
func readY(y io.Reader, v *validator) (map[string]*yEntry, error) {
	src := newSource(y, "Y")
	header, err := src.header()
	if err != nil {
		return nil, err
	}
	cols, err := findColumns("Y", header, indexColumn(header), colLabel)
	if err != nil {
		return nil, err
	}
	iIdx, iLabel := cols[0], cols[1]
	ys := make(map[string]*yEntry)
	for {
		rec, line, problem, err := src.next()
		if err == io.EOF {
			return ys, nil
		}
		if err != nil {
			return nil, err
		}
		if problem != "" {
			v.reject(0, "", KindMalformed, fmt.Sprintf("Y line %d: %s", line, problem))
			continue
		}
		if len(rec) != len(header) {
			v.reject(0, "", KindFieldCount, fmt.Sprintf("Y line %d: wrong number of fields: got %d, want %d", line, len(rec), len(header)))
			continue
		}
		idx := strings.TrimSpace(rec[iIdx])
		if idx == "" {
			v.reject(0, "", KindMissingID, fmt.Sprintf("Y line %d: empty index", line))
			continue
		}
		if ye, ok := ys[idx]; ok {
			if ye.dupLine == 0 {
				ye.dupLine = line
			}
			continue
		}
		ys[idx] = &yEntry{index: idx, label: rec[iLabel], line: line}
	}
}

// ReadCSV reads a generic CSV file with a header. textCols name the text
// columns: the first becomes Title, the others, when not empty, are joined
// with "\n" into Body. labelCol names the label column; "" reads unlabelled
// data. A row is rejected as KindEmptyText when all its text columns are
// empty. Errors are as for ReadRaw.
func ReadCSV(r io.Reader, textCols []string, labelCol string, opts Options) (*Dataset, error) {
	if err := CheckColumns(textCols, labelCol, opts.IDColumn); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	v := newValidator(opts)
	src := newSource(r, "CSV")
	header, err := src.header()
	if err != nil {
		return nil, err
	}
	cols, hasID, err := csvColumns(header, textCols, labelCol, opts.IDColumn)
	if err != nil {
		return nil, err
	}
	iText := cols[:len(textCols)]
	iLabel, iID := -1, -1
	rest := cols[len(textCols):]
	if labelCol != "" {
		iLabel, rest = rest[0], rest[1:]
	}
	if hasID {
		iID = rest[0]
	}

	idLine := make(map[string]int)
	texts := make([]string, len(iText))
	row := 0
	v.ds.RowIDs = !hasID
	for {
		rec, line, problem, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		row++
		id := strconv.Itoa(row)
		// A record that cannot be read has no ID of its own, but its row
		// number is known: it is one record, even when an unclosed quote
		// ran it over several lines.
		unread := ""
		if iID < 0 {
			unread = id
		}
		if problem != "" {
			v.reject(line, unread, KindMalformed, problem)
			continue
		}
		if len(rec) != len(header) {
			v.reject(line, unread, KindFieldCount, fmt.Sprintf("wrong number of fields: got %d, want %d", len(rec), len(header)))
			continue
		}
		if iID >= 0 {
			if id = strings.TrimSpace(rec[iID]); id == "" {
				v.reject(line, "", KindMissingID, "empty id")
				continue
			}
			if !v.validID(line, header[iID], id) {
				continue
			}
		}
		if first, ok := idLine[id]; ok {
			v.reject(line, id, KindDuplicateID, fmt.Sprintf("duplicate id %s, first at line %d", id, first))
			continue
		}
		idLine[id] = line
		ok, empty := true, true
		for k, c := range iText {
			if texts[k], ok = v.text(line, id, textCols[k], rec[c]); !ok {
				break
			}
			if empty && text.HasText(texts[k]) {
				empty = false
			}
		}
		if !ok {
			continue
		}
		if empty {
			v.reject(line, id, KindEmptyText, "no letter or digit in "+strings.Join(textCols, ", "))
			continue
		}
		label := ""
		if iLabel >= 0 {
			if label, ok = v.label(line, id, rec[iLabel]); !ok {
				continue
			}
		}
		v.ds.Examples = append(v.ds.Examples, Example{ID: id, Title: texts[0], Body: joinNonEmpty(texts[1:]), Label: label})
	}
	v.hidden = src.spanned
	return v.finish()
}

func joinNonEmpty(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p)
	}
	return b.String()
}

// validator applies Options to fields and collects the results.
type validator struct {
	opts  Options
	known map[string]bool
	ds    *Dataset
	// hidden counts the rows malformed records most likely hid (see
	// source.spanned): each counts as rejected against MaxRejectFraction.
	hidden int
}

func newValidator(opts Options) *validator {
	v := &validator{opts: opts, ds: &Dataset{}}
	if len(opts.KnownLabels) > 0 {
		v.known = make(map[string]bool, len(opts.KnownLabels))
		for _, l := range opts.KnownLabels {
			v.known[l] = true
		}
	}
	return v
}

func (v *validator) reject(line int, id, kind, reason string) {
	v.ds.Rejects = append(v.ds.Rejects, Reject{Line: line, ID: id, Kind: kind, Reason: reason})
}

// text checks one text field and returns it, repaired if allowed; ok is
// false when the row was rejected.
func (v *validator) text(line int, id, col, s string) (string, bool) {
	if v.opts.MaxFieldBytes > 0 && len(s) > v.opts.MaxFieldBytes {
		v.reject(line, id, KindTooLong, fmt.Sprintf("%s is %d bytes, limit %d", col, len(s), v.opts.MaxFieldBytes))
		return "", false
	}
	if utf8.ValidString(s) {
		return s, true
	}
	if v.opts.StrictUTF8 {
		v.reject(line, id, KindInvalidUTF8, "invalid UTF-8 in "+col)
		return "", false
	}
	v.ds.Repairs = append(v.ds.Repairs, Reject{Line: line, ID: id, Kind: KindInvalidUTF8,
		Reason: "invalid UTF-8 in " + col + " replaced with U+FFFD"})
	return strings.ToValidUTF8(s, "\uFFFD"), true
}

// validID reports whether id, read from column col, is valid UTF-8, and
// rejects the row when it is not. IDs are keys, so they are never repaired:
// two repaired IDs could collide.
func (v *validator) validID(line int, col, id string) bool {
	if utf8.ValidString(id) {
		return true
	}
	v.reject(line, "", KindInvalidUTF8, "invalid UTF-8 in "+col)
	return false
}

// label checks a label field; ok is false when the row was rejected.
func (v *validator) label(line int, id, s string) (string, bool) {
	l := strings.TrimSpace(s)
	switch {
	case l == "":
		v.reject(line, id, KindMissingLabel, "missing label")
		return "", false
	case !utf8.ValidString(l):
		v.reject(line, id, KindInvalidUTF8, "invalid UTF-8 in label")
		return "", false
	case v.known != nil && !v.known[l]:
		v.reject(line, id, KindUnknownLabel, fmt.Sprintf("unknown label %q", l))
		return "", false
	}
	return l, true
}

// finish applies the dataset-level checks.
func (v *validator) finish() (*Dataset, error) {
	d := v.ds
	n, bad := len(d.Examples)+len(d.Rejects), len(d.Rejects)
	if repaired := repairedRows(d.Repairs); repaired > 0 && 2*repaired > n {
		return d, fmt.Errorf("dataset: %d of %d rows have invalid UTF-8 (the first on line %d): the file is not UTF-8; "+
			"if it is Latin-1 or Windows-1252, convert it first, e.g. with iconv -f WINDOWS-1252 -t UTF-8: %w",
			repaired, n, d.Repairs[0].Line, ErrBadData)
	}
	if len(d.Examples) == 0 {
		if bad == 0 {
			return d, fmt.Errorf("dataset: no rows: %w", ErrBadData)
		}
		return d, fmt.Errorf("dataset: no usable rows (%d rejected: %s): %w", bad, d.RejectSummary(), ErrBadData)
	}
	// A malformed record over several lines most likely hid a row per
	// line past its first: they count as rejected rows too.
	if limit := v.opts.MaxRejectFraction; limit > 0 && float64(bad+v.hidden) > limit*float64(n+v.hidden) {
		hidden := ""
		if v.hidden > 0 {
			hidden = fmt.Sprintf(", counting as rows the %d lines that malformed records ran over past their first", v.hidden)
		}
		return d, fmt.Errorf("dataset: %d of %d rows rejected (%.1f%%%s), above the limit of %.1f%% (%s): %w",
			bad+v.hidden, n+v.hidden, 100*float64(bad+v.hidden)/float64(n+v.hidden), hidden, 100*limit, d.RejectSummary(), ErrBadData)
	}
	return d, nil
}

// repairedRows counts the distinct rows in repairs, which holds one entry
// per repaired field, in row order.
func repairedRows(repairs []Reject) int {
	n := 0
	for i, r := range repairs {
		if i == 0 || r.Line != repairs[i-1].Line {
			n++
		}
	}
	return n
}

// source reads records from one CSV file.
type source struct {
	name string
	r    *csv.Reader
	// pending is a record read ahead after a malformed one; see next.
	pending *record
	// spanned counts the lines past their first that malformed records
	// took: rows of the file, most likely, that an unclosed quote hid.
	spanned int
}

// record is what source.read returns: a record starting on line, or a
// malformed one spanning line to lastLine with its problem, or err.
type record struct {
	rec            []string
	line, lastLine int
	problem        string
	err            error
}

func newSource(r io.Reader, name string) *source {
	br := bufio.NewReaderSize(r, 64<<10)
	// A UTF-8 byte order mark would otherwise stick to the first column name.
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		_, _ = br.Discard(3) // cannot fail after a successful Peek
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // field counts are checked per row, as rejects
	cr.ReuseRecord = true
	return &source{name: name, r: cr}
}

// header reads the header row.
func (s *source) header() ([]string, error) {
	rec, err := s.r.Read()
	var pe *csv.ParseError
	switch {
	case err == io.EOF:
		return nil, fmt.Errorf("dataset: %s: empty file, no header: %w", s.name, ErrBadData)
	case errors.As(err, &pe):
		return nil, fmt.Errorf("dataset: %s header: %v: %w", s.name, pe, ErrBadData)
	case err != nil:
		return nil, fmt.Errorf("dataset: read %s header: %w", s.name, err)
	}
	h := make([]string, len(rec))
	for i, c := range rec {
		h[i] = strings.TrimSpace(c)
	}
	return h, nil
}

// next returns the next record and the line it starts on. A malformed record
// gives a non-empty problem instead; err is io.EOF at the end and otherwise
// an I/O error, or ErrBadData when a malformed record runs to the end of the
// file.
func (s *source) next() (rec []string, line int, problem string, err error) {
	r := s.pending
	s.pending = nil
	if r == nil {
		r = s.read()
	}
	// A quote that is never closed swallows every line after it into one
	// malformed record: fail rather than lose the rest of the file as a
	// single reject. Every record is checked, the read-ahead ones too.
	if r.problem != "" && r.lastLine > r.line {
		s.spanned += r.lastLine - r.line
		next := s.read()
		if next.err == io.EOF {
			return nil, 0, "", fmt.Errorf("dataset: %s line %d: a malformed record runs from there to the end of the file (line %d), "+
				"most likely a quote that is never closed; lines %d to %d cannot be read: %w",
				s.name, r.line, r.lastLine, r.line, r.lastLine, ErrBadData)
		}
		s.pending = next
	}
	return r.rec, r.line, r.problem, r.err
}

// read is next without the look-ahead.
func (s *source) read() *record {
	rec, err := s.r.Read()
	var pe *csv.ParseError
	switch {
	case err == nil:
		line, _ := s.r.FieldPos(0)
		return &record{rec: rec, line: line}
	case errors.As(err, &pe):
		span := fmt.Sprintf("line %d", pe.Line)
		if pe.Line > pe.StartLine {
			span = fmt.Sprintf("lines %d to %d", pe.StartLine, pe.Line)
		}
		return &record{line: pe.StartLine, lastLine: pe.Line, problem: fmt.Sprintf("malformed CSV at %s, column %d: %v", span, pe.Column, pe.Err)}
	case err == io.EOF:
		return &record{err: io.EOF}
	default:
		line, _ := s.r.FieldPos(0)
		return &record{err: fmt.Errorf("dataset: read %s after line %d: %w", s.name, line, err)}
	}
}

// csvColumns finds the text, label (when labelCol is not empty) and ID
// columns of a generic CSV in header, in that order; hasID says whether
// there is an ID column: idCol, or else a pandas index written first.
func csvColumns(header, textCols []string, labelCol, idCol string) (cols []int, hasID bool, err error) {
	want := append([]string(nil), textCols...)
	if labelCol != "" {
		want = append(want, labelCol)
	}
	hasID = idCol != ""
	if !hasID && (header[0] == "" || header[0] == "Unnamed: 0") {
		// The row index pandas writes first; an unnamed column elsewhere
		// (a header's trailing comma, a blank-headed notes column) is
		// not an ID.
		idCol, hasID = header[0], true
	}
	if hasID && slices.Contains(want, idCol) {
		return nil, false, fmt.Errorf("dataset: column %s is the ID column and cannot also be text or label: %w", quoteCol(idCol), ErrBadData)
	}
	if hasID {
		want = append(want, idCol)
	}
	cols, err = findColumns("CSV", header, want...)
	return cols, hasID, err
}

// CheckColumns reports whether the columns given to ReadCSV name each
// column once, for one part: a label column read as text would put the answer among the
// features, and a text column given twice would count twice. idCol may
// be "" (none given).
func CheckColumns(textCols []string, labelCol, idCol string) error {
	if len(textCols) == 0 {
		return errors.New("no text columns given")
	}
	for i, c := range textCols {
		switch {
		case c == "":
			return fmt.Errorf("text column %d of %d has an empty name", i+1, len(textCols))
		case slices.Contains(textCols[:i], c):
			return fmt.Errorf("text column %s is given twice", quoteCol(c))
		case c == labelCol:
			return fmt.Errorf("column %s is given as both text and label: the model would read the answer", quoteCol(c))
		case c == idCol:
			return fmt.Errorf("column %s is given as both text and ID", quoteCol(c))
		}
	}
	if labelCol != "" && labelCol == idCol {
		return fmt.Errorf("column %s is given as both label and ID", quoteCol(labelCol))
	}
	return nil
}

// indexColumn returns the name of the row-index column written by pandas:
// "" or "Unnamed: 0".
func indexColumn(header []string) string {
	if hasColumn(header, "Unnamed: 0") && !hasColumn(header, "") {
		return "Unnamed: 0"
	}
	return ""
}

func hasColumn(header []string, name string) bool {
	for _, h := range header {
		if h == name {
			return true
		}
	}
	return false
}

// findColumns returns the position of each named column, or an ErrBadData
// error naming all missing or ambiguous columns.
func findColumns(file string, header []string, names ...string) ([]int, error) {
	pos := make([]int, len(names))
	var missing, dup []string
	for i, n := range names {
		pos[i] = -1
		for j, h := range header {
			if h != n {
				continue
			}
			if pos[i] >= 0 {
				dup = append(dup, quoteCol(n))
				break
			}
			pos[i] = j
		}
		if pos[i] < 0 {
			missing = append(missing, quoteCol(n))
		}
	}
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, "missing column(s) "+strings.Join(missing, ", "))
	}
	if len(dup) > 0 {
		msgs = append(msgs, "duplicate column(s) "+strings.Join(dup, ", "))
	}
	if len(msgs) > 0 {
		for _, h := range header {
			if strings.ContainsRune(h, '\r') {
				// Go's CSV reader ends lines at LF only, so the whole file
				// reads as one header row.
				msgs = append(msgs, "its lines end in a bare CR (classic Mac OS); save it with LF or CRLF line ends")
				break
			}
		}
		if len(header) == 1 {
			for _, sep := range []string{";", "\t", "|"} {
				if strings.Contains(header[0], sep) {
					// A spreadsheet's export in a locale that writes
					// decimal commas, or a TSV.
					msgs = append(msgs, fmt.Sprintf("its fields look separated by %q, not commas; export it as comma-separated CSV", sep))
					break
				}
			}
		}
		return nil, fmt.Errorf("dataset: %s header %s: %s: %w", file, headerSummary(header), strings.Join(msgs, "; "), ErrBadData)
	}
	return pos, nil
}

// headerSummary quotes a header for an error message, shortened: a file
// read with the wrong line ends has its whole content in the header, and
// the message travels through Temporal and onto terminals.
func headerSummary(header []string) string {
	const maxBytes = 200
	q := strconv.Quote(strings.Join(header, ","))
	if len(q) <= maxBytes {
		return q
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(q[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d columns, %d bytes)", q[:cut], len(header), len(strings.Join(header, ",")))
}

func quoteCol(n string) string {
	if n == "" {
		return `"" (index)`
	}
	return strconv.Quote(n)
}
