package registry

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests need no database: a fake server stands in for it.

// fakePostgres is just enough of a PostgreSQL server for lib/pq's Listener:
// it accepts any startup and answers LISTEN; other queries (lib/pq's ping
// is an empty one) it answers only if answerPings, else it goes silent
// like a peer behind a network black hole.
type fakePostgres struct {
	dsn    string
	pinged chan struct{} // a ping arrived
	gone   chan struct{} // a client closed its connection
}

func newFakePostgres(t *testing.T, answerPings bool) *fakePostgres {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePostgres{
		dsn:    "postgres://u:pw@" + ln.Addr().String() + "/db?sslmode=disable",
		pinged: make(chan struct{}, 100),
		gone:   make(chan struct{}, 100),
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	// Closing the connections also ends lib/pq's goroutines still waiting
	// for an answer.
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				if f.serve(c, answerPings) {
					signal(f.gone)
				}
			})
		}
	})
	return f
}

// serve speaks to one client until it leaves (then it reports true) or the
// connection breaks.
func (f *fakePostgres) serve(c net.Conn, answerPings bool) bool {
	r := bufio.NewReader(c)
	if _, err := readMessage(r, false); err != nil { // startup
		return false
	}
	ready := message('Z', "I")
	hello := append(message('R', "\x00\x00\x00\x00"), message('K', "\x00\x00\x00\x01\x00\x00\x00\x02")...)
	if _, err := c.Write(append(hello, ready...)); err != nil {
		return false
	}
	for {
		m, err := readMessage(r, true)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		switch {
		case m[0] == 'X': // terminate
			return true
		case m[0] != 'Q':
		case strings.HasPrefix(string(m[5:]), "LISTEN "):
			_, err = c.Write(append(message('C', "LISTEN\x00"), ready...))
		default:
			if answerPings {
				_, err = c.Write(append(message('I', ""), ready...))
			}
			signal(f.pinged)
		}
		if err != nil {
			return false
		}
	}
}

// readMessage reads one protocol message; the startup one has no type byte.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	n := 4
	if typed {
		n = 5
	}
	head := make([]byte, n)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(head[n-4:])
	if size < 4 || size > 1<<20 {
		return nil, errors.New("bad message length")
	}
	body := make([]byte, size-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head, body...), nil
}

// signal notes an event on c without ever blocking the server.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func message(typ byte, body string) []byte {
	m := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[1:], uint32(len(body)+4))
	return append(m, body...)
}

// startListen runs listenTimed against dsn until the returned cancel, waiting
// for its first Resync; done receives what listen returns.
func startListen(t *testing.T, dsn string, pingEvery, pingTimeout time.Duration) (done <-chan error, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resync := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- listenTimed(ctx, dsn, nil, func(ev AliasEvent) {
			if ev.Resync {
				signal(resync)
			}
		}, pingEvery, pingTimeout)
	}()
	select {
	case <-resync:
	case err := <-errc:
		t.Fatalf("listen: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("listen: no resync after connecting")
	}
	return errc, cancel
}

// wait returns what done receives, failing if that takes over 5 s (lib/pq
// would otherwise block for minutes, until TCP gives up).
func wait(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("listen still running 5s after %s", what)
		return nil
	}
}

func TestListenStopsWhilePingHangs(t *testing.T) {
	f := newFakePostgres(t, false)
	// The ping may wait an hour: only cancelling can end listen.
	done, cancel := startListen(t, f.dsn, 10*time.Millisecond, time.Hour)
	select {
	case <-f.pinged: // lib/pq now holds its lock until an answer comes
	case <-time.After(10 * time.Second):
		t.Fatal("no ping")
	}
	cancel()
	if err := wait(t, done, "cancel"); err != nil {
		t.Errorf("listen = %v, want nil after cancel", err)
	}
}

func TestListenUnansweredPing(t *testing.T) {
	f := newFakePostgres(t, false)
	done, _ := startListen(t, f.dsn, 10*time.Millisecond, 100*time.Millisecond)
	err := wait(t, done, "a ping went unanswered")
	if err == nil || !strings.Contains(err.Error(), "no answer to a ping within 100ms") {
		t.Errorf("listen = %v, want a dead connection error", err)
	}
}

func TestListenAnsweredPings(t *testing.T) {
	f := newFakePostgres(t, true)
	done, cancel := startListen(t, f.dsn, 10*time.Millisecond, 5*time.Second)
	for range 3 {
		select {
		case <-f.pinged:
		case err := <-done:
			t.Fatalf("listen = %v while pings are answered", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no ping")
		}
	}
	cancel()
	if err := wait(t, done, "cancel"); err != nil {
		t.Errorf("listen = %v, want nil after cancel", err)
	}
	// Closing in the background still closes the connection.
	select {
	case <-f.gone:
	case <-time.After(5 * time.Second):
		t.Error("the connection is still open 5s after listen returned")
	}
}
