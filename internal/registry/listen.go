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

// Reconnection back-off of Listen, and how often it checks that an idle
// connection is still alive (a silently dropped TCP connection would
// otherwise go unnoticed until the next notification never arrives).
const (
	listenMinReconnect = 250 * time.Millisecond
	listenMaxReconnect = 10 * time.Second
	listenPingInterval = 30 * time.Second
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
// and failed attempt to log (which may be nil).
func Listen(ctx context.Context, dsn string, log logrus.FieldLogger, fn func(AliasEvent)) error {
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
	defer l.Close()

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

	var pinging atomic.Bool
	ping := time.NewTicker(listenPingInterval)
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
			// Ping can block on a dead connection until TCP gives up: run it
			// aside so delivery never stalls, one at a time.
			if pinging.CompareAndSwap(false, true) {
				go func() {
					defer pinging.Store(false)
					if err := l.Ping(); err != nil {
						log.WithError(err).Debug("registry: listener ping failed")
					}
				}()
			}
		}
	}
}
