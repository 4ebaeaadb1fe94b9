// Package text prepares product listings for feature extraction: it strips
// HTML, unescapes entities, folds accents and case, and reduces everything
// else to single spaces, so that "Échelle&nbsp;<b>ALU</b>" becomes
// "echelle alu".
//
// It is written for the prediction hot path: plain ASCII input is handled
// byte by byte without allocation, and the HTML tokenizer only runs when the
// input contains markup.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/text/unicode/norm"
)

// MaxInputBytes bounds the bytes of one field that are looked at. Listings
// longer than this are truncated: the head of a description carries the
// signal, and the bound keeps a pathological input from stalling a worker.
const MaxInputBytes = 64 << 10

// Normalize returns the normalised form of s; see AppendNormalized.
func Normalize(s string) string { return string(AppendNormalized(nil, s)) }

// AppendNormalized appends the normalised form of s to dst and returns the
// extended slice. The normalised form is lower-case, accent-folded letters
// and digits, in words separated by single spaces, with no leading or
// trailing space. Markup is removed when s looks like HTML; invalid UTF-8 is
// treated as a separator.
func AppendNormalized(dst []byte, s string) []byte {
	if len(s) > MaxInputBytes {
		s = s[:MaxInputBytes]
		// A tag cut in two would be read as text, its attributes as words.
		if i := strings.LastIndexByte(s, '<'); i > strings.LastIndexByte(s, '>') && opensTag(s[i+1:]) {
			s = s[:i]
		}
	}
	start := len(dst)
	switch {
	case strings.IndexByte(s, '<') >= 0:
		dst = appendHTML(dst, s)
	case strings.IndexByte(s, '&') >= 0:
		dst = appendFolded(dst, html.UnescapeString(s))
	default:
		dst = appendFolded(dst, s)
	}
	return trimSpace(dst, start)
}

// maxTagBytes bounds how far before a cut a '<' is taken for a tag the
// cut went through: more is text, such as "M8<M10" early in a long field.
const maxTagBytes = 4 << 10

// opensTag reports whether rest, what follows a '<' up to a cut, can be
// the start of a tag cut short.
func opensTag(rest string) bool {
	if len(rest) > maxTagBytes {
		return false
	}
	if rest == "" {
		return true
	}
	c := rest[0] | 0x20
	return 'a' <= c && c <= 'z' || rest[0] == '/' || rest[0] == '!' || rest[0] == '?'
}

// HasText reports whether the normalised form of s has any word, that is
// whether s has a letter or a digit outside markup. Plain ASCII text is
// answered without normalising it.
func HasText(s string) bool {
	if strings.IndexByte(s, '<') < 0 && strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s) && i < MaxInputBytes; i++ {
			if c := s[i] | 0x20; 'a' <= c && c <= 'z' || '0' <= s[i] && s[i] <= '9' {
				return true
			}
		}
	}
	var buf [256]byte
	return len(AppendNormalized(buf[:0], s)) > 0
}

// appendHTML folds the text content of an HTML fragment. Every tag counts as
// a word break, since listings use <br> and <p> where prose would use spaces.
func appendHTML(dst []byte, s string) []byte {
	z := html.NewTokenizer(strings.NewReader(s))
	skip := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			// A '<' that opens no tag before the end ("M8<M10 inox") is
			// text, which the tokenizer hands back unparsed.
			if raw := z.Raw(); len(raw) > 0 && !skip {
				dst = appendFolded(dst, html.UnescapeString(string(raw)))
			}
			return dst
		case html.TextToken:
			if !skip {
				dst = appendFolded(dst, string(z.Text()))
			}
		case html.StartTagToken:
			name, _ := z.TagName()
			skip = string(name) == "script" || string(name) == "style"
			dst = appendSpace(dst)
		case html.EndTagToken, html.SelfClosingTagToken:
			skip = false
			dst = appendSpace(dst)
		}
	}
}

// appendFolded appends the folded form of plain text s.
func appendFolded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				dst = append(dst, c)
			case 'A' <= c && c <= 'Z':
				dst = append(dst, c+'a'-'A')
			default:
				dst = appendSpace(dst)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		dst = appendRune(dst, r)
	}
	return dst
}

// appendRune appends the folded form of a non-ASCII rune: its compatibility
// decomposition without combining marks, lower-cased, or a space when it is
// neither a letter nor a digit.
func appendRune(dst []byte, r rune) []byte {
	if r == utf8.RuneError {
		return appendSpace(dst)
	}
	if r < latinEnd {
		if f := latinFold[r-utf8.RuneSelf]; f != "" {
			return append(dst, f...)
		}
		return appendSpace(dst)
	}
	return appendDecomposed(dst, r)
}

// latinEnd ends the Latin blocks whose folds are precomputed, because
// norm allocates and French listings are full of accented Latin letters.
const latinEnd = 0x250

// latinFold holds the folds of U+0080..U+024F ("" for separators). It is
// computed once and never written again.
var latinFold = func() (t [latinEnd - utf8.RuneSelf]string) {
	for r := rune(utf8.RuneSelf); r < latinEnd; r++ {
		t[r-utf8.RuneSelf] = string(appendDecomposed(nil, r))
	}
	t['œ'-utf8.RuneSelf], t['Œ'-utf8.RuneSelf] = "oe", "oe"
	t['æ'-utf8.RuneSelf], t['Æ'-utf8.RuneSelf] = "ae", "ae"
	t['ß'-utf8.RuneSelf] = "ss"
	for i, f := range t {
		if f == " " {
			t[i] = ""
		}
	}
	return t
}()

// appendDecomposed appends the compatibility decomposition of r without
// combining marks, lower-cased, or a space when r is neither a letter nor a
// digit. A combining accent on its own (decomposed text: "e\u0301") folds
// away as a precomposed one does, and a spacing mark (an Indic vowel sign)
// stays inside its word.
func appendDecomposed(dst []byte, r rune) []byte {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me):
		return dst
	case unicode.Is(unicode.Mc, r):
		return utf8.AppendRune(dst, r)
	}
	if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
		return appendSpace(dst)
	}
	var in, out [utf8.UTFMax * 4]byte
	dec := norm.NFKD.Append(out[:0], utf8.AppendRune(in[:0], r)...)
	for len(dec) > 0 {
		d, n := utf8.DecodeRune(dec)
		dec = dec[n:]
		switch {
		case 'A' <= d && d <= 'Z':
			dst = append(dst, byte(d+'a'-'A'))
		case 'a' <= d && d <= 'z', '0' <= d && d <= '9':
			dst = append(dst, byte(d))
		case unicode.Is(unicode.Mn, d):
			// A combining accent: folded away.
		case unicode.IsLetter(d) || unicode.IsNumber(d):
			dst = utf8.AppendRune(dst, unicode.ToLower(d))
		default:
			dst = appendSpace(dst)
		}
	}
	return dst
}

// appendSpace appends one separator unless dst already ends with one.
func appendSpace(dst []byte) []byte {
	if len(dst) == 0 || dst[len(dst)-1] == ' ' {
		return dst
	}
	return append(dst, ' ')
}

// trimSpace removes a leading and a trailing separator from dst[start:].
func trimSpace(dst []byte, start int) []byte {
	if len(dst) > start && dst[start] == ' ' {
		dst = append(dst[:start], dst[start+1:]...)
	}
	if len(dst) > start && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}
