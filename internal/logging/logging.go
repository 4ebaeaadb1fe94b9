// Package logging builds prodcat's logrus loggers and adapts them to the
// Temporal SDK, so that every line, ours or the SDK's, has the same shape.
package logging

import (
	"fmt"
	"io"

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

// Error implements log.Logger.
func (t Temporal) Error(msg string, keyvals ...any) { t.with(keyvals).Error(msg) }

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
		fields[key] = keyvals[i+1]
	}
	return t.entry.WithFields(fields)
}
