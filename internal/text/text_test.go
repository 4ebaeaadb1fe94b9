package text

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"Échelle ALU", "echelle alu"},
		{"Crème brûlée & Œufs", "creme brulee oeufs"},
		{"d&#39;été&nbsp;chaud", "d ete chaud"},
		{"<p>Lot de <b>5</b> cartes</p><br/>Vert", "lot de 5 cartes vert"},
		{"<script>var x = 1;</script>Jouet", "jouet"},
		// A '<' that opens no tag is text.
		{"Vis M8<M10 inox", "vis m8 m10 inox"},
		{"Taille <L pour homme", "taille l pour homme"},
		{"<p>Lot</p> x<y &amp; z", "lot x y z"},
		{"<script>x<y", ""},
		{"Taille: 42-44 (EU)", "taille 42 44 eu"},
		{"straße ﬁn ²", "strasse fin 2"},
		{"bad\xff\xfeutf8", "bad utf8"},
		{"d¿été", "d ete"},
		{"ÀÉÎÕÜ", "aeiou"},
		{"日本語 テスト", "日本語 テスト"},
		// Decomposed accents (NFD, as some exports write them) fold as
		// precomposed ones do; spacing marks stay in their word.
		{"Cre\u0300me bru\u0302le\u0301e", "creme brulee"},
		{"E\u0301CHELLE", "echelle"},
		{"\u0301\u20dd", ""},
		{"हिन्दी", "हिनदी"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAppendNormalizedKeepsPrefix(t *testing.T) {
	got := string(AppendNormalized([]byte("title "), " Hello, World! "))
	if got != "title hello world" {
		t.Errorf("got %q", got)
	}
}

func TestNormalizeBoundsLongInput(t *testing.T) {
	long := strings.Repeat("<div>abc</div>", MaxInputBytes)
	got := Normalize(long)
	if len(got) == 0 || len(got) > MaxInputBytes {
		t.Errorf("len(Normalize(long)) = %d, want in (0, %d]", len(got), MaxInputBytes)
	}
}

func TestNormalizeShortTitleDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendNormalized(buf[:0], "Puma Men Black T-shirt, Size 42")
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "<p>a</p>", "&amp;é", "\xff", "<scr"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Normalize(s)
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Errorf("Normalize(%q) = %q: stray spaces", s, got)
		}
		if HasText(s) != (got != "") {
			t.Errorf("HasText(%q) = %v, but Normalize gives %q", s, HasText(s), got)
		}
	})
}

func BenchmarkNormalizeTitle(b *testing.B) {
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = AppendNormalized(buf[:0], "Clairefontaine Lot De 5 Cartes Simple 210g Vert Pqt 25")
	}
}

func TestHasText(t *testing.T) {
	for s, want := range map[string]bool{
		"":                 false,
		"  \t\n":           false,
		"!!! -- ?":         false,
		"&nbsp;&amp;":      false,
		"<br><p></p>":      false,
		"<b>  </b>&#8203;": false,
		"\u200b\x00\xff":   false,
		"x":                true,
		"--7--":            true,
		"Z":                true,
		"<p>chaise</p>":    true,
		"<L pour homme":    true,
		"&Eacute;":         true,
		"été":              true,
		"日本":               true,
		"\xff\xfeé":        true,
	} {
		if got := HasText(s); got != want {
			t.Errorf("HasText(%q) = %v, want %v", s, got, want)
		}
		if got, norm := HasText(s), Normalize(s) != ""; got != norm {
			t.Errorf("HasText(%q) = %v, but Normalize gives %q", s, got, Normalize(s))
		}
	}
}

// Truncating a long description never cuts a tag in two, whose attributes
// would otherwise come out as words.
func TestTruncationKeepsTagsWhole(t *testing.T) {
	pad := strings.Repeat("mot ", (MaxInputBytes-10)/4)
	s := "<p>" + pad + `<a href="https://example.com/tracking?utm_source=feed">lien</a></p>`
	got := Normalize(s)
	if strings.Contains(got, "href") || strings.Contains(got, "utm") || !strings.HasSuffix(got, "mot") {
		t.Errorf("normalised tail %q", got[max(0, len(got)-40):])
	}
	// A '<' that is text, early in a long field, keeps what follows it.
	long := "Vis M8<M10 inox " + strings.Repeat("mot ", MaxInputBytes/4)
	if got := Normalize(long); len(got) < MaxInputBytes/2 || !strings.HasPrefix(got, "vis m8 m10 inox mot") {
		t.Errorf("a text '<' then %d bytes: normalised to %d bytes starting %q", len(long), len(got), got[:min(len(got), 30)])
	}
	if !HasText("<" + strings.Repeat("a", MaxInputBytes)) {
		t.Error("a '<' then letters has no text")
	}
	// Nor is a comparison near the cut taken for a tag.
	near := strings.Repeat("mot ", (MaxInputBytes-8)/4) + "a < 3 b c d e f"
	if got := Normalize(near); !strings.HasSuffix(got, "mot a 3 b") {
		t.Errorf("a comparison near the cut: tail %q", got[max(0, len(got)-20):])
	}
}
