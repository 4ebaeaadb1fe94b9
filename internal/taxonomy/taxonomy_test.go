package taxonomy

import (
	"os"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/testenv"
)

func TestAll(t *testing.T) {
	all := All()
	if len(all) != 27 {
		t.Fatalf("%d categories, want 27", len(all))
	}
	prev := -1
	seenFR, seenEN := map[string]bool{}, map[string]bool{}
	for _, c := range all {
		n, err := strconv.Atoi(c.Code)
		if err != nil || n <= prev {
			t.Errorf("code %q not numeric or out of order", c.Code)
		}
		prev = n
		if c.FR == "" || c.EN == "" || !utf8.ValidString(c.FR) {
			t.Errorf("category %+v lacks a name", c)
		}
		if seenFR[c.FR] || seenEN[c.EN] {
			t.Errorf("category %+v: name used twice", c)
		}
		seenFR[c.FR], seenEN[c.EN] = true, true
		if got, ok := Lookup(c.Code); !ok || got != c {
			t.Errorf("Lookup(%q) = %+v, %v", c.Code, got, ok)
		}
	}
	// All returns a copy.
	all[0].EN = "changed"
	if c, _ := Lookup("10"); c.EN == "changed" {
		t.Error("All exposes the table")
	}
}

func TestLookup(t *testing.T) {
	if c, ok := Lookup("2583"); !ok || c.EN != "Pool and spa" || c.FR != "Piscine et spa" {
		t.Errorf("Lookup(2583) = %+v, %v", c, ok)
	}
	for _, code := range []string{"", "11", "2583 ", "0010"} {
		if _, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) found a category", code)
		}
	}
	if Name("2905") != "PC games (download)" || Name("42") != "42" {
		t.Errorf("Name: %q, %q", Name("2905"), Name("42"))
	}
	codes := Codes()
	if len(codes) != 27 || codes[0] != "10" || codes[26] != "2905" {
		t.Errorf("Codes = %v", codes)
	}
}

// Every label of the real training split has a name.
func TestRakutenLabelsHaveNames(t *testing.T) {
	x, err := os.Open(testenv.Split(t, "rakuten", "X_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	y, err := os.Open(testenv.Split(t, "rakuten", "Y_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	d, err := dataset.ReadRaw(x, y, dataset.Options{KnownLabels: Codes()})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rejects) != 0 {
		t.Errorf("labels without a name: %s", d.RejectSummary())
	}
	labels := dataset.Labels(d.Examples)
	if len(labels) != 27 {
		t.Errorf("%d labels in the split, want 27", len(labels))
	}
	for _, l := range labels {
		if _, ok := Lookup(l); !ok {
			t.Errorf("label %s has no name", l)
		}
	}
}
