package registry

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freezingProxy forwards TCP to a PostgreSQL and can stop forwarding, as a
// database that hangs (stopped with SIGSTOP, or a stuck disk) behaves:
// connections stay open and nothing comes back.
type freezingProxy struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.wg.Add(2)
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	t.Cleanup(func() {
		p.frozen.Store(false)
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *freezingProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A database that hangs makes the registry's calls fail instead of hanging
// them: Ping when its context ends, queries after the read timeout.
func TestHungDatabase(t *testing.T) {
	dsn := freshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("DATABASE_URL is not a postgres:// URL with a host (%v)", err)
	}
	proxy := newFreezingProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	r, err := openTimed(testCtx(t), u.String(), nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Models(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	proxy.frozen.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	err = r.Ping(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ping of a hung database: %v, want the context's deadline", err)
	}
	if _, err := r.Models(testCtx(t)); err == nil {
		t.Error("a query to a hung database succeeded")
	} else if errors.Is(err, io.EOF) {
		t.Errorf("a query to a hung database: %v, want a timeout", err)
	}

	// Once it answers again, so does the registry, on fresh connections.
	proxy.frozen.Store(false)
	deadline := time.Now().Add(time.Minute)
	for {
		err := r.Ping(testCtx(t))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry never recovered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := r.Models(testCtx(t)); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

// Migrating may take longer than a query may: here Open waits for another
// process's migration (its advisory lock) for longer than the read timeout.
func TestMigrationOutlastsReadTimeout(t *testing.T) {
	dsn := freshSchema(t)
	ctx := testCtx(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		t.Fatal(err)
	}
	const held = 1500 * time.Millisecond
	released := make(chan error, 1)
	time.AfterFunc(held, func() {
		_, err := holder.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey)
		released <- err
	})
	start := time.Now()
	r, err := openTimed(ctx, dsn, nil, held/5)
	if err != nil {
		t.Fatalf("open while another migration holds the lock: %v", err)
	}
	defer r.Close()
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < held/2 {
		t.Errorf("open returned after %v, before the lock was released", waited)
	}
	if _, err := r.Models(ctx); err != nil {
		t.Fatal(err)
	}
}

// A migration waits long for the database, but not past its caller: Open
// returns when its context ends even if the database hangs meanwhile and
// never answers the request to cancel.
func TestMigrationStopsWithItsContext(t *testing.T) {
	dsn := freshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("DATABASE_URL is not a postgres:// URL with a host (%v)", err)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder, err := db.Conn(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(testCtx(t), `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLockKey)

	proxy := newFreezingProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		r, err := openTimed(ctx, u.String(), nil, time.Second)
		if err == nil {
			r.Close()
		}
		done <- err
	}()
	// Waiting for the lock held above, the database hangs; then the caller
	// gives up.
	time.Sleep(500 * time.Millisecond)
	proxy.frozen.Store(true)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Open succeeded while another migration held the lock")
		}
	case <-time.After(time.Minute):
		t.Fatal("Open did not return when its context ended")
	}
}
