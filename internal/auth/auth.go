// Package auth authenticates API callers by HTTP Basic credentials checked
// against bcrypt password hashes, and gives each user a role.
//
// bcrypt is slow on purpose (tens of milliseconds per check), far too slow
// to run on every request of a service answering thousands per second. An
// Authenticator therefore runs bcrypt once per credential and remembers the
// outcome under an HMAC-SHA256 of the credential, keyed with a secret drawn
// at random when the process starts: the cache never holds a password or a
// value that could be checked offline, it dies with the process, and a
// cached credential costs one HMAC and a constant-time comparison, about a
// microsecond. Credentials that failed are remembered too (in a bounded
// set), so a client stuck with a wrong password does not cost a bcrypt per
// request; new guesses do, and at most a few bcrypt checks run at once, so
// a flood of guesses cannot take every core. Checks waiting for their turn
// are bounded too, and dropped when every request waiting for them has
// gone, so guesses sent and abandoned cannot pile up ahead of a real login.
package auth

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may do.
type Role string

// The roles. An admin may also do what a predict user may.
const (
	RolePredict Role = "predict"
	RoleAdmin   Role = "admin"
)

// Allows reports whether role r grants what need requires.
func (r Role) Allows(need Role) bool {
	switch r {
	case RoleAdmin:
		return need == RoleAdmin || need == RolePredict
	case RolePredict:
		return need == RolePredict
	}
	return false
}

func (r Role) valid() bool { return r == RolePredict || r == RoleAdmin }

// User is one account: a name, a role and a bcrypt hash of the password.
type User struct {
	Name string
	Role Role
	Hash []byte
}

// Principal is an authenticated caller.
type Principal struct {
	Name string
	Role Role
}

// Errors of Authenticate. The first two mean 401 to an HTTP caller.
var (
	// ErrNoCredentials: the Authorization header is missing or is not
	// well-formed Basic credentials.
	ErrNoCredentials = errors.New("no Basic credentials")
	// ErrBadCredentials: unknown user or wrong password.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrBusy: too many new credentials already wait for a bcrypt check,
	// so this one was not checked. It says nothing about the credentials;
	// an HTTP caller should get 503 with Retry-After and try again. Already
	// verified credentials never get it.
	ErrBusy = errors.New("too many password checks waiting; try again later")
)

// maxFailed bounds the set of remembered failed credentials; when it is
// full it is emptied, which only costs some bcrypt checks again.
const maxFailed = 4096

// queuedPerSlot bounds the checks waiting for a bcrypt slot, per slot: a
// new login waits at most about that many bcrypt turns, else gets ErrBusy.
const queuedPerSlot = 16

// maxCredentials bounds the decoded "user:password" of a Basic header,
// maxEncoded its base64 form.
const (
	maxCredentials = 512
	maxEncoded     = (maxCredentials + 2) / 3 * 4
)

// Authenticator checks Basic credentials. It is safe for concurrent use.
type Authenticator struct {
	users map[string]*account
	// dummy is checked for unknown users, so that they take as long as
	// known users with a wrong password.
	dummy []byte
	macs  sync.Pool // *mac, keyed with key
	key   [32]byte
	// slow bounds concurrent bcrypt checks.
	slow chan struct{}
	// maxQueued bounds the checks waiting for a slot.
	maxQueued int

	mu     sync.Mutex
	failed map[[sha256.Size]byte]struct{}
	// checks holds the checks queued or running, by MAC, so that requests
	// bringing the same credential at once (a client opening many
	// connections) share one; queued counts those waiting for a slot.
	checks map[[sha256.Size]byte]*check
	queued int
	// bcrypts counts bcrypt checks, for tests.
	bcrypts atomic.Int64
}

// check is one bcrypt check of a credential. Its fields other than done,
// p and err are guarded by Authenticator.mu.
type check struct {
	waiters int  // requests waiting for the outcome
	started bool // it has a slot and will run to the end
	// abandon is closed when the last waiter leaves before it started.
	abandon chan struct{}
	done    chan struct{} // closed once p or err is set
	p       *Principal
	err     error
}

type account struct {
	principal Principal
	hash      []byte
	// verified is the MAC of the credential that passed bcrypt, nil until
	// one has.
	verified atomic.Pointer[[sha256.Size]byte]
}

type mac struct {
	h   hash.Hash
	in  [maxCredentials]byte
	out [sha256.Size]byte
}

// New returns an Authenticator for users. Names must be unique and
// non-empty without ':', roles known, and hashes bcrypt hashes.
func New(users []User) (*Authenticator, error) {
	if len(users) == 0 {
		return nil, errors.New("auth: no users")
	}
	slots := max(1, runtime.GOMAXPROCS(0)/2)
	a := &Authenticator{
		users:     make(map[string]*account, len(users)),
		slow:      make(chan struct{}, slots),
		maxQueued: slots * queuedPerSlot,
		failed:    make(map[[sha256.Size]byte]struct{}),
		checks:    make(map[[sha256.Size]byte]*check),
	}
	cost := bcrypt.MinCost // the dummy hash costs what the users' hashes cost
	for _, u := range users {
		if err := checkUser(u); err != nil {
			return nil, err
		}
		if _, dup := a.users[u.Name]; dup {
			return nil, fmt.Errorf("auth: user %q is defined twice", u.Name)
		}
		c, err := bcrypt.Cost(u.Hash)
		if err != nil {
			return nil, fmt.Errorf("auth: user %q: not a bcrypt hash: %w", u.Name, err)
		}
		cost = max(cost, c)
		a.users[u.Name] = &account{principal: Principal{Name: u.Name, Role: u.Role}, hash: u.Hash}
	}
	if _, err := rand.Read(a.key[:]); err != nil {
		return nil, fmt.Errorf("auth: random key: %w", err)
	}
	a.macs.New = func() any { return &mac{h: hmac.New(sha256.New, a.key[:])} }
	var secret [16]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("auth: random key: %w", err)
	}
	dummy, err := bcrypt.GenerateFromPassword(secret[:], cost)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a.dummy = dummy
	return a, nil
}

func checkUser(u User) error {
	switch {
	case u.Name == "":
		return errors.New("auth: a user has an empty name")
	case strings.ContainsAny(u.Name, ":, \t\r\n"):
		return fmt.Errorf("auth: user name %q: no ':', ',' or spaces allowed", u.Name)
	case !u.Role.valid():
		return fmt.Errorf("auth: user %q: role %q: want %s or %s", u.Name, u.Role, RolePredict, RoleAdmin)
	}
	return nil
}

// Authenticate checks the value of an Authorization header. It returns
// the caller, or an error wrapping ErrNoCredentials, ErrBadCredentials or
// ErrBusy, or one wrapping ctx's error when ctx ends before the outcome of
// a bcrypt check is known.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (*Principal, error) {
	const prefix = "Basic "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return nil, ErrNoCredentials
	}
	enc := strings.TrimLeft(header[len(prefix):], " ")
	// Fixed-size buffers keep the check free of allocations.
	var src [maxEncoded]byte
	if len(enc) > len(src) {
		return nil, fmt.Errorf("%w: credentials longer than %d bytes", ErrNoCredentials, maxCredentials)
	}
	// maxEncoded characters without padding decode to one byte more than
	// maxCredentials: decode into room for that, then check.
	var raw [maxEncoded / 4 * 3]byte
	n, err := base64.StdEncoding.Decode(raw[:], src[:copy(src[:], enc)])
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrNoCredentials)
	}
	if n > maxCredentials {
		return nil, fmt.Errorf("%w: credentials longer than %d bytes", ErrNoCredentials, maxCredentials)
	}
	cred := raw[:n]
	colon := -1
	for i, c := range cred {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 {
		return nil, fmt.Errorf("%w: want user:password", ErrNoCredentials)
	}
	sum := a.sum(cred)
	acc := a.users[string(cred[:colon])] // no allocation for a map index
	if acc != nil {
		if v := acc.verified.Load(); v != nil && subtle.ConstantTimeCompare(v[:], sum[:]) == 1 {
			return &acc.principal, nil
		}
	}
	return a.slowPath(ctx, acc, cred[colon+1:], sum)
}

// sum returns the keyed MAC of a "user:password" credential.
func (a *Authenticator) sum(cred []byte) [sha256.Size]byte {
	m := a.macs.Get().(*mac)
	m.h.Reset()
	// Written from the pooled copy: passing cred to the interface method
	// would move the caller's stack buffer to the heap.
	m.h.Write(m.in[:copy(m.in[:], cred)])
	out := [sha256.Size]byte(m.h.Sum(m.out[:0]))
	a.macs.Put(m)
	return out
}

// slowPath checks a credential that is not cached as good with bcrypt,
// once even when many requests bring it at the same time. The shared check
// does not depend on any one caller's context: each caller stops waiting
// when its own context ends, and the check is dropped if all of them do
// before it gets a bcrypt slot.
func (a *Authenticator) slowPath(ctx context.Context, acc *account, password []byte, sum [sha256.Size]byte) (*Principal, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("auth: password check: %w", err)
	}
	c, p, err := a.join(acc, password, sum)
	if c == nil {
		return p, err
	}
	select {
	case <-c.done:
		return c.p, c.err
	case <-ctx.Done():
		a.leave(c, sum)
		return nil, fmt.Errorf("auth: gave up waiting for a password check: %w", ctx.Err())
	}
}

// join adds the caller to the check of sum, starting one if none is
// queued or running. It returns the check to wait for, or nil and the
// answer when no bcrypt is needed or the queue is full.
func (a *Authenticator) join(acc *account, password []byte, sum [sha256.Size]byte) (*check, *Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.checks[sum]; c != nil {
		c.waiters++
		return c, nil, nil
	}
	// A check of this credential may have ended since the caller's cache
	// look-up; checks record their outcome before leaving a.checks. The
	// failed set is indexed by the MAC; looking it up leaks nothing about
	// passwords, since the MAC key never leaves the process.
	if acc != nil {
		if v := acc.verified.Load(); v != nil && subtle.ConstantTimeCompare(v[:], sum[:]) == 1 {
			return nil, &acc.principal, nil
		}
	}
	if _, failed := a.failed[sum]; failed {
		return nil, nil, ErrBadCredentials
	}
	if a.queued >= a.maxQueued {
		return nil, nil, ErrBusy
	}
	c := &check{waiters: 1, abandon: make(chan struct{}), done: make(chan struct{})}
	a.checks[sum] = c
	a.queued++
	go a.run(c, acc, string(password), sum) // password copied: the caller's buffer is reused
	return c, nil, nil
}

// leave takes a caller that gave up off c, and drops c if it was the last
// one and c still waits for a slot.
func (a *Authenticator) leave(c *check, sum [sha256.Size]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c.waiters--
	if c.waiters == 0 && !c.started {
		delete(a.checks, sum)
		a.queued--
		close(c.abandon)
	}
}

// run waits for a bcrypt slot unless c is abandoned first, checks the
// password and records the outcome.
func (a *Authenticator) run(c *check, acc *account, pw string, sum [sha256.Size]byte) {
	select {
	case a.slow <- struct{}{}:
	case <-c.abandon:
		return
	}
	a.mu.Lock()
	if c.waiters == 0 { // abandoned as the slot came free
		a.mu.Unlock()
		<-a.slow
		return
	}
	c.started = true
	a.queued--
	a.mu.Unlock()

	hash := a.dummy
	if acc != nil {
		hash = acc.hash
	}
	a.bcrypts.Add(1)
	// bcrypt reads only the first 72 bytes: a longer password would
	// otherwise pass with any tail (Hash refuses to make such a hash).
	ok := bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil && acc != nil && len(pw) <= maxPasswordBytes
	<-a.slow
	if ok {
		acc.verified.Store(&sum)
		c.p = &acc.principal
	} else {
		a.remember(sum)
		c.err = ErrBadCredentials
	}
	a.mu.Lock()
	delete(a.checks, sum)
	a.mu.Unlock()
	close(c.done)
}

// remember adds a failed credential to the bounded failed set.
func (a *Authenticator) remember(sum [sha256.Size]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.failed) >= maxFailed {
		clear(a.failed)
	}
	a.failed[sum] = struct{}{}
}

// ParseUsers parses users written as "name:role:bcrypt-hash" entries
// separated by commas or new lines. Blank entries and lines starting with
// '#' are skipped. source names the input in errors.
func ParseUsers(source string, r io.Reader) ([]User, error) {
	var users []User
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") {
			continue
		}
		for entry := range strings.SplitSeq(text, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			name, rest, ok1 := strings.Cut(entry, ":")
			role, hash, ok2 := strings.Cut(rest, ":")
			if !ok1 || !ok2 || name == "" || hash == "" {
				return nil, fmt.Errorf("auth: %s line %d: want name:role:bcrypt-hash", source, line)
			}
			u := User{Name: name, Role: Role(role), Hash: []byte(hash)}
			if err := checkUser(u); err != nil {
				return nil, fmt.Errorf("%w (%s line %d)", err, source, line)
			}
			if _, err := bcrypt.Cost(u.Hash); err != nil {
				return nil, fmt.Errorf("auth: %s line %d: user %q: not a bcrypt hash", source, line, name)
			}
			users = append(users, u)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth: read %s: %w", source, err)
	}
	return users, nil
}

// maxPasswordBytes is the longest password bcrypt looks at in full.
const maxPasswordBytes = 72

// Hash returns the bcrypt hash of password at the default cost, for
// writing user entries.
func Hash(password string) ([]byte, error) {
	if password == "" {
		return nil, errors.New("auth: empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password: %w", err)
	}
	return h, nil
}

// DevUsers returns the development accounts admin/admin (admin) and
// predict/predict (predict). Never use them outside development.
func DevUsers() ([]User, error) {
	users := []User{{Name: "admin", Role: RoleAdmin}, {Name: "predict", Role: RolePredict}}
	for i := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(users[i].Name), bcrypt.MinCost)
		if err != nil {
			return nil, fmt.Errorf("auth: dev users: %w", err)
		}
		users[i].Hash = h
	}
	return users, nil
}

// HasBearer reports whether header, an Authorization header, carries
// token as its bearer token, compared in constant time. Metrics scrapers
// send one, and scrape too often for bcrypt.
func HasBearer(header, token string) bool {
	if token == "" {
		return false // no token matches nothing, not everything
	}
	got, ok := strings.CutPrefix(header, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
