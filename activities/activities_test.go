package activities

import (
	"errors"
	"io"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// Temporal looks only at the top of an error chain for the application
// error's type and retryability, so annotate must keep a non-retryable
// error at the top.
func TestAnnotateKeepsNonRetryable(t *testing.T) {
	err := annotate(badData("decode model m.bin: bad checksum"), "quality gate: load production model v%d", 3)
	app, ok := err.(*temporal.ApplicationError)
	if !ok {
		t.Fatalf("annotate gave %T, want *temporal.ApplicationError at the top", err)
	}
	if !app.NonRetryable() || app.Type() != ErrBadData {
		t.Errorf("non-retryable %v, type %q; want true, %q", app.NonRetryable(), app.Type(), ErrBadData)
	}
	if want := "quality gate: load production model v3: decode model m.bin: bad checksum"; app.Message() != want {
		t.Errorf("message %q, want %q", app.Message(), want)
	}
	if n := strings.Count(app.Error(), "bad checksum"); n != 1 {
		t.Errorf("%q says it %d times", app.Error(), n)
	}

	// Anything else (a store that is down) stays retryable and wrapped.
	err = annotate(io.ErrUnexpectedEOF, "read model")
	if _, ok := err.(*temporal.ApplicationError); ok || !errors.Is(err, io.ErrUnexpectedEOF) || err.Error() != "read model: unexpected EOF" {
		t.Errorf("annotate(plain) = %#v", err)
	}
}
