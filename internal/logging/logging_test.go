package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONCarriesTemporalKeyvals(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "", JSON, "debug")
	if err != nil {
		t.Fatal(err)
	}
	NewTemporal(l).With("Namespace", "default").Info("started", "WorkflowID", "wf-1", "odd")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	for k, want := range map[string]any{"msg": "started", "Namespace": "default", "WorkflowID": "wf-1", "!BADKEY": "odd", "component": "temporal-sdk", "level": "info"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
}

func TestTextAndBadSettings(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, Text, JSON, "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.WithField("key", "k1").Warn("shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "key=k1") {
		t.Errorf("text output %q", s)
	}
	if _, err := New(&buf, "xml", JSON, ""); err == nil {
		t.Error("want error for format xml")
	}
	if _, err := New(&buf, "", JSON, "loud"); err == nil {
		t.Error("want error for level loud")
	}
}
