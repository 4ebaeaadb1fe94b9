// Package logging builds prodcat's logrus loggers and adapts them to the
// Temporal SDK, so that every line, ours or the SDK's, has the same shape.
package logging

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/sirupsen/logrus"
	tlog "go.temporal.io/sdk/log"
)

// Format names for New.
const (
	JSON = "json"
	Text = "text"
)

// New returns a logger writing to w. format is "json" or "text"; an empty
// format uses fallback, so services default to JSON and commands to text.
func New(w io.Writer, format, fallback, level string) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(w)
	if format == "" {
		format = fallback
	}
	switch format {
	case JSON:
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	case Text:
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000"})
	default:
		return nil, fmt.Errorf("log format %q: want json or text", format)
	}
	if level == "" {
		level = "info"
	}
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	l.SetLevel(lv)
	return l, nil
}

// Temporal adapts a logrus entry to the Temporal SDK's logger interface.
type Temporal struct {
	entry *logrus.Entry
}

var (
	_ tlog.Logger          = Temporal{}
	_ tlog.WithLogger      = Temporal{}
	_ tlog.WithSkipCallers = Temporal{}
)

// NewTemporal returns a Temporal SDK logger that writes through l.
func NewTemporal(l logrus.FieldLogger) Temporal {
	return Temporal{entry: l.WithField("component", "temporal-sdk")}
}

// Debug implements log.Logger.
func (t Temporal) Debug(msg string, keyvals ...any) { t.with(keyvals).Debug(msg) }

// Info implements log.Logger.
func (t Temporal) Info(msg string, keyvals ...any) { t.with(keyvals).Info(msg) }

// Warn implements log.Logger.
func (t Temporal) Warn(msg string, keyvals ...any) { t.with(keyvals).Warn(msg) }

// Error implements log.Logger. An activity's failed attempt is a warning:
// it is retried or fails its run, which says so, and logging every attempt
// of a database outage as an error would page someone for each.
func (t Temporal) Error(msg string, keyvals ...any) {
	if msg == sdkActivityError {
		t.with(keyvals).Warn(msg)
		return
	}
	t.with(keyvals).Error(msg)
}

// With implements log.WithLogger.
func (t Temporal) With(keyvals ...any) tlog.Logger { return Temporal{entry: t.with(keyvals)} }

// WithCallerSkip implements log.WithSkipCallers; logrus reports no callers here.
func (t Temporal) WithCallerSkip(int) tlog.Logger { return t }

func (t Temporal) with(keyvals []any) *logrus.Entry {
	if len(keyvals) == 0 {
		return t.entry
	}
	fields := make(logrus.Fields, len(keyvals)/2+1)
	for i := 0; i < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		if i+1 == len(keyvals) {
			fields["!BADKEY"] = key
			break
		}
		fields[fieldName(key)] = keyvals[i+1]
	}
	return t.entry.WithFields(fields)
}

// sdkActivityError is the message the SDK (v1.50) logs for an activity
// attempt that failed.
const sdkActivityError = "Activity error."

// sdkFields name the SDK's keys as prodcat's own lines do, so that one
// query follows a run through both.
var sdkFields = map[string]string{
	"WorkflowID": "workflow_id", "RunID": "run_id", "ActivityType": "activity", "Attempt": "attempt",
	"Error": "error", "WorkflowType": "workflow", "TaskQueue": "task_queue", "Namespace": "namespace",
	"ActivityID": "activity_id", "WorkerID": "worker_id",
}

// fieldName returns the field an SDK key goes to: its name in sdkFields,
// else the key in snake case (ScheduledEventID as scheduled_event_id).
// The SDK's keys are ASCII, read byte by byte.
func fieldName(key string) string {
	if f, ok := sdkFields[key]; ok {
		return f
	}
	var b strings.Builder
	for i, r := range key {
		upper := unicode.IsUpper(r)
		// A new word starts at an upper-case letter after a lower-case
		// one, or before one in a run of capitals (IDs then Name).
		if upper && i > 0 {
			prev := rune(key[i-1])
			next := rune(0)
			if i+1 < len(key) {
				next = rune(key[i+1])
			}
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && unicode.IsLower(next)) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
