package activities

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/internal/artifact"
)

// Bounds of keep's tries: a heavy stage's output is worth minutes of
// waiting for a bucket that restarts or fails over.
const (
	keepFirstWait = time.Second
	keepFor       = 10 * time.Minute
)

// keep stores what a stage took long to compute with put, trying again
// while the store does not answer, so that a short outage of the bucket
// at the end does not make the stage start over. what names the output in
// the log.
func (a *Activities) keep(ctx context.Context, what string, put func(context.Context) (artifact.Ref, error)) (artifact.Ref, error) {
	return retryStore(ctx, keepFirstWait, keepFor, put, func(err error, wait time.Duration) {
		a.logger(ctx).WithError(err).WithFields(logrus.Fields{"artifact": what, "retry_in": wait.String()}).
			Warn("cannot store the stage's output; keeping it and trying again")
	})
}

// retryStore calls put until it succeeds, fails in a way that may not pass
// (artifact.Transient), ctx ends, or the next try would start after limit:
// waits double from first to 30 s, each told to retrying first.
func retryStore(ctx context.Context, first, limit time.Duration, put func(context.Context) (artifact.Ref, error), retrying func(err error, wait time.Duration)) (artifact.Ref, error) {
	deadline := time.Now().Add(limit)
	wait := first
	for {
		ref, err := put(ctx)
		if err == nil || !artifact.Transient(err) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return ref, err
		}
		retrying(err, wait)
		select {
		case <-ctx.Done():
			return artifact.Ref{}, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
