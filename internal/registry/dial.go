package registry

import (
	"context"
	"net"
	"sync"
	"time"
)

// connectTimeout bounds connecting and the start-up exchange when the
// database URL sets no connect_timeout, so a port that accepts but never
// answers fails instead of hanging.
const connectTimeout = 10 * time.Second

// ReadTimeout bounds the wait for an answer after each message sent: a
// registry call fails within it whatever the database does. lib/pq does
// not stop reading when a query's context ends (it asks the server to
// cancel, which a hung server never does), so without it a PostgreSQL that
// hangs would hold its caller for good. Registry queries answer in
// milliseconds.
const ReadTimeout = 30 * time.Second

// deadlineDialer dials connections whose reads give up readTimeout after
// the last write.
type deadlineDialer struct {
	d           net.Dialer
	readTimeout time.Duration
}

func (d deadlineDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d deadlineDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d deadlineDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, timeout: d.readTimeout}, nil
}

// deadlineConn sets a read deadline with each write. An earlier deadline
// set by its user (lib/pq's connect_timeout) still applies.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	set     time.Time // the user's read deadline; zero for none
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	d := time.Now().Add(c.timeout)
	if !c.set.IsZero() && c.set.Before(d) {
		d = c.set
	}
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.set = t
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.set = t
	return c.Conn.SetReadDeadline(t)
}

// closingDialer is a deadlineDialer that can close every connection it
// dialed, for work that may wait on the database for longer than a query
// should (migrating), so that it still stops when its caller gives up.
type closingDialer struct {
	deadlineDialer
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func (d *closingDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *closingDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d *closingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.deadlineDialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	d.conns = append(d.conns, c)
	return c, nil
}

// closeAll closes the connections dialed so far and refuses new ones.
func (d *closingDialer) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for _, c := range d.conns {
		c.Close()
	}
}
