package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prodcat/prodcat/internal/artifact"
)

// A store that does not answer, or answers that it is busy, is tried
// again, with waits that double, up to the limit; a refusal of the request
// fails at once.
func TestRetryStore(t *testing.T) {
	down := fmt.Errorf("put models/x.bin: cannot reach S3: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	failing := func(n int, err error) (func(context.Context) (artifact.Ref, error), *int) {
		calls := 0
		return func(context.Context) (artifact.Ref, error) {
			calls++
			if calls <= n {
				return artifact.Ref{}, err
			}
			return artifact.Ref{Key: "models/x.bin"}, nil
		}, &calls
	}
	var waits []time.Duration
	note := func(_ error, w time.Duration) { waits = append(waits, w) }

	put, calls := failing(3, down)
	ref, err := retryStore(context.Background(), time.Millisecond, time.Minute, put, note)
	if err != nil || ref.Key != "models/x.bin" || *calls != 4 {
		t.Fatalf("after 3 failures: %+v, %v, %d calls", ref, err, *calls)
	}
	if fmt.Sprint(waits) != "[1ms 2ms 4ms]" {
		t.Errorf("waits %v, want doubling from 1ms", waits)
	}
	for _, final := range []error{artifact.ErrCredentials, artifact.ErrNotFound, artifact.ErrBadKey,
		minio.ErrorResponse{Code: "EntityTooLarge", StatusCode: 400}} {
		put, calls := failing(5, fmt.Errorf("put models/x.bin: %w", final))
		if _, err := retryStore(context.Background(), time.Millisecond, time.Minute, put, note); !errors.Is(err, final) || *calls != 1 {
			t.Errorf("%v: %v after %d calls, want it at once", final, err, *calls)
		}
	}
	put, calls = failing(1, fmt.Errorf("put: %w", minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}))
	if _, err := retryStore(context.Background(), time.Millisecond, time.Minute, put, note); err != nil || *calls != 2 {
		t.Errorf("a busy store: %v after %d calls, want success at the second", err, *calls)
	}
	// Past the limit, the last error stands.
	put, calls = failing(1000, down)
	if _, err := retryStore(context.Background(), 10*time.Millisecond, 50*time.Millisecond, put, note); !errors.Is(err, down) || *calls < 2 || *calls > 4 {
		t.Errorf("past the limit: %v after %d calls", err, *calls)
	}
	// A stage that is canceled stops trying.
	ctx, cancel := context.WithCancel(context.Background())
	put, calls = failing(1000, down)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := retryStore(ctx, 5*time.Millisecond, time.Minute, put, note); !errors.Is(err, down) || *calls > 10 {
		t.Errorf("canceled: %v after %d calls", err, *calls)
	}
}
