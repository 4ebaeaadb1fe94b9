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
	for k, want := range map[string]any{"msg": "started", "namespace": "default", "workflow_id": "wf-1", "!BADKEY": "odd", "component": "temporal-sdk", "level": "info"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	// A failed attempt is a warning; other errors stay errors.
	buf.Reset()
	NewTemporal(l).Error("Activity error.", "ActivityType", "Ingest", "Attempt", 3, "ScheduledEventID", 5)
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	if line["level"] != "warning" || line["activity"] != "Ingest" || line["attempt"] != 3.0 || line["scheduled_event_id"] != 5.0 {
		t.Errorf("failed attempt logged as %v", line)
	}
	buf.Reset()
	NewTemporal(l).Error("Workflow panic", "Error", "boom")
	if !strings.Contains(buf.String(), `"level":"error"`) {
		t.Errorf("a panic logged as %s", buf.String())
	}
}

func TestFieldName(t *testing.T) {
	for key, want := range map[string]string{
		"WorkflowID": "workflow_id", "ScheduledEventID": "scheduled_event_id", "StartedEventID": "started_event_id",
		"LocalActivityID": "local_activity_id", "Attempt": "attempt", "key": "key", "HTTPStatus": "http_status", "QueryType": "query_type",
	} {
		if got := fieldName(key); got != want {
			t.Errorf("fieldName(%q) = %q, want %q", key, got, want)
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
