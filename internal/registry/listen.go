package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/sirupsen/logrus"
)

// Reconnection back-off of Listen, how often it checks that an idle
// connection is still alive (a silently dropped TCP connection would
// otherwise go unnoticed until the next notification never arrives), and
// how long a ping may go unanswered before the connection counts as dead
// (TCP alone would take minutes to tell).
const (
	listenMinReconnect = 250 * time.Millisecond
	listenMaxReconnect = 10 * time.Second
	listenPingInterval = 30 * time.Second
	listenPingTimeout  = 10 * time.Second
)

// Listen calls fn with every alias move notified on AliasChannel of the
// database at dsn, until ctx is done; then it returns nil.
//
// fn runs on Listen's goroutine, one event at a time; it should be quick
// (hand slow work such as loading a model to another goroutine). Right
// after the first connection, and after every reconnection, fn receives an
// event with Resync set: notifications sent while no connection listened
// are lost, so the caller should read the aliases again (the first one
// also closes the gap between the caller's initial read and LISTEN).
//
// If the first connection fails, Listen returns the error at once, with
// the same clear messages as Open, so a misconfiguration is not hidden.
// After that it reconnects on its own with back-off, logging every loss
// and failed attempt to log (which may be nil). The exception is a
// connection that stops answering (a network black hole, a failover):
// lib/pq cannot drop it before TCP gives up, so Listen returns an error
// and leaves reconnecting to its caller, who can call it again.
//
// Listen returns promptly when ctx is done, even while the database does
// not answer.
func Listen(ctx context.Context, dsn string, log logrus.FieldLogger, fn func(AliasEvent)) error {
	return listenTimed(ctx, dsn, log, fn, listenPingInterval, listenPingTimeout)
}

// listenTimed is Listen with its ping timings as parameters, for tests.
func listenTimed(ctx context.Context, dsn string, log logrus.FieldLogger, fn func(AliasEvent), pingEvery, pingTimeout time.Duration) error {
	if log == nil {
		log = discard()
	}
	log = log.WithFields(logrus.Fields{"component": "registry", "channel": AliasChannel})
	cfg, err := parseURL(dsn)
	if err != nil {
		return fmt.Errorf("registry: listen: %w", err)
	}
	if fn == nil {
		return fmt.Errorf("registry: listen: nil callback: %w", ErrInvalid)
	}

	var listening atomic.Bool
	firstFailure := make(chan error, 1)
	onEvent := func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnectionAttemptFailed:
			if !listening.Load() {
				select {
				case firstFailure <- err:
				default:
				}
				return
			}
			log.WithError(err).Warn("registry: listener cannot reconnect; retrying")
		case pq.ListenerEventDisconnected:
			log.WithError(err).Warn("registry: listener lost its connection; reconnecting")
		case pq.ListenerEventReconnected:
			log.Info("registry: listener reconnected")
		}
	}
	l := pq.NewListener(dsn, listenMinReconnect, listenMaxReconnect, onEvent)
	// Close waits for l's lock, which a call stuck on an unanswering
	// connection (Ping, Listen, a reconnection) holds until TCP gives up,
	// possibly minutes: close aside so Listen returns at once. Draining
	// Notify lets lib/pq's goroutine finish; both then end.
	defer func() {
		go func() {
			_ = l.Close()
			for range l.Notify {
			}
		}()
	}()

	// l.Listen blocks until a connection is up, so wait for it, for the
	// first failure, or for ctx; closing l (deferred) releases it.
	listened := make(chan error, 1)
	go func() { listened <- l.Listen(AliasChannel) }()
	select {
	case err := <-listened:
		if err != nil {
			return fmt.Errorf("registry: listen on %s at %s: %w", AliasChannel, address(cfg), err)
		}
	case err := <-firstFailure:
		return fmt.Errorf("registry: listen: %w", connectError(cfg, err))
	case <-ctx.Done():
		return nil
	}
	listening.Store(true)
	log.Debug("registry: listening for alias moves")
	fn(AliasEvent{Resync: true})

	// One ping at a time, run aside so delivery never stalls. pingDeadline
	// is nil when no ping is in flight.
	pong := make(chan error, 1)
	var pingDeadline <-chan time.Time
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case n, ok := <-l.Notify:
			if !ok {
				return errors.New("registry: listen: listener closed")
			}
			if n == nil {
				// lib/pq's signal that it reconnected.
				fn(AliasEvent{Resync: true})
				continue
			}
			var ev AliasEvent
			if err := json.Unmarshal([]byte(n.Extra), &ev); err != nil || ev.Model == "" || ev.Alias == "" {
				log.WithField("payload", n.Extra).Warn("registry: ignoring a malformed alias notification")
				continue
			}
			fn(ev)
		case <-ping.C:
			if pingDeadline == nil {
				go func() { pong <- l.Ping() }()
				pingDeadline = time.After(pingTimeout)
			}
		case err := <-pong:
			pingDeadline = nil
			// lib/pq drops a connection whose ping failed and reconnects.
			if err != nil {
				log.WithError(err).Debug("registry: listener ping failed")
			}
		case <-pingDeadline:
			return fmt.Errorf("registry: listen on %s at %s: no answer to a ping within %s; connection presumed dead",
				AliasChannel, address(cfg), pingTimeout)
		}
	}
}
