package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table documents every variable with its default.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars() {
		row := "| `" + v.Name + "` | "
		if v.Default != "" {
			row += "`" + v.Default + "` "
		}
		row += "| " + v.Help + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}
