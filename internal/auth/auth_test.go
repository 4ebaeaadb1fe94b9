package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func mustHash(t testing.TB, password string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newAuth(t testing.TB) *Authenticator {
	t.Helper()
	a, err := New([]User{
		{Name: "alice", Role: RoleAdmin, Hash: mustHash(t, "wonderland")},
		{Name: "bob", Role: RolePredict, Hash: mustHash(t, "builder")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuthenticate(t *testing.T) {
	a := newAuth(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, header string
		want         *Principal
		err          error
	}{
		{"admin", basic("alice", "wonderland"), &Principal{"alice", RoleAdmin}, nil},
		{"predict", basic("bob", "builder"), &Principal{"bob", RolePredict}, nil},
		{"scheme is case-insensitive", "basic " + base64.StdEncoding.EncodeToString([]byte("bob:builder")), &Principal{"bob", RolePredict}, nil},
		{"password with a colon is fine", basic("bob", "builder:x"), nil, ErrBadCredentials},
		{"wrong password", basic("alice", "wonderlan"), nil, ErrBadCredentials},
		{"unknown user", basic("mallory", "wonderland"), nil, ErrBadCredentials},
		{"empty password", basic("alice", ""), nil, ErrBadCredentials},
		{"missing", "", nil, ErrNoCredentials},
		{"bearer", "Bearer abc", nil, ErrNoCredentials},
		{"bad base64", "Basic !!!", nil, ErrNoCredentials},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), nil, ErrNoCredentials},
		{"empty user", basic("", "wonderland"), nil, ErrNoCredentials},
		{"too long", basic("alice", strings.Repeat("x", 600)), nil, ErrNoCredentials},
		// 684 unpadded characters decode to 513 bytes, one over the limit.
		{"one byte too long, unpadded", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("alice:"+strings.Repeat("x", 507))), nil, ErrNoCredentials},
		{"longest allowed", basic("alice", strings.Repeat("x", 506)), nil, ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second answer comes from the caches.
			for range 2 {
				p, err := a.Authenticate(ctx, tc.header)
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.want == nil {
					if p != nil {
						t.Fatalf("principal %+v on failure", p)
					}
					continue
				}
				if p == nil || *p != *tc.want {
					t.Fatalf("principal = %+v, want %+v", p, tc.want)
				}
			}
		})
	}
}

// bcrypt ignores what follows the 72nd byte, so a longer password must
// not pass on its first 72 bytes.
func TestLongPasswordNeedsEveryByte(t *testing.T) {
	pw := strings.Repeat("p", maxPasswordBytes)
	a, err := New([]User{{Name: "carol", Role: RoleAdmin, Hash: mustHash(t, pw)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p, err := a.Authenticate(ctx, basic("carol", pw)); err != nil || p.Name != "carol" {
		t.Fatalf("the %d-byte password: %+v, %v", len(pw), p, err)
	}
	if _, err := a.Authenticate(ctx, basic("carol", pw+"anything")); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the password with a tail: err = %v, want ErrBadCredentials", err)
	}
}

func TestBcryptRunsOncePerCredential(t *testing.T) {
	a := newAuth(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := a.Authenticate(ctx, basic("alice", "wonderland")); err != nil {
				t.Error(err)
			}
			if _, err := a.Authenticate(ctx, basic("alice", "guess")); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("wrong password: %v", err)
			}
		})
	}
	wg.Wait()
	for range 10 {
		if _, err := a.Authenticate(ctx, basic("alice", "wonderland")); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.bcrypts.Load(); got != 2 {
		t.Errorf("%d bcrypt checks for one good and one bad credential used 42 times each, want 2", got)
	}
}

func TestCachedCheckDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	a := newAuth(t)
	ctx := context.Background()
	h := basic("alice", "wonderland")
	if _, err := a.Authenticate(ctx, h); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := a.Authenticate(ctx, h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("cached check: %v allocations, want 0", allocs)
	}
}

func TestWaitForBcryptEndsWithContext(t *testing.T) {
	a := newAuth(t)
	for range cap(a.slow) {
		a.slow <- struct{}{} // every bcrypt slot busy
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Authenticate(ctx, basic("alice", "wonderland")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for range cap(a.slow) {
		<-a.slow
	}
	if _, err := a.Authenticate(context.Background(), basic("alice", "wonderland")); err != nil {
		t.Fatalf("after the slots freed: %v", err)
	}
}

// holdSlots takes every bcrypt slot, as checks of other credentials would,
// and returns a func that frees them.
func holdSlots(a *Authenticator) (free func()) {
	for range cap(a.slow) {
		a.slow <- struct{}{}
	}
	return func() {
		for range cap(a.slow) {
			<-a.slow
		}
	}
}

// Guesses whose senders gave up while their check waited for a slot must
// not run bcrypt later, nor delay the next login. synctest makes "waiting"
// and the deadlines exact: no wall-clock time is involved.
func TestAbandonedChecksDoNotRunBcrypt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAuth(t)
		free := holdSlots(a)
		const n = 16 // within the queue bound whatever the slot count
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				_, errs[i] = a.Authenticate(ctx, basic("alice", fmt.Sprint("guess-", i)))
			})
		}
		synctest.Wait() // every guess waits for a slot
		time.Sleep(time.Second)
		wg.Wait() // every sender gave up
		for i, err := range errs {
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrBadCredentials) {
				t.Fatalf("guess %d: err = %v, want only context.DeadlineExceeded", i, err)
			}
		}
		synctest.Wait() // let the dropped checks see it
		free()
		p, err := a.Authenticate(context.Background(), basic("alice", "wonderland"))
		if err != nil || p.Name != "alice" {
			t.Fatalf("login after the guesses: %+v, %v", p, err)
		}
		if got := a.bcrypts.Load(); got != 1 {
			t.Errorf("%d bcrypt checks by the time the login was served, want 1 (its own): abandoned guesses ran", got)
		}
	})
}

// A shared check is dropped only when every caller waiting for it gave up.
func TestSharedCheckOutlivesOneCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAuth(t)
		free := holdSlots(a)
		h := basic("alice", "wonderland")
		ctx, cancel := context.WithCancel(context.Background())
		var quitter, stayer error
		var wg sync.WaitGroup
		wg.Go(func() { _, quitter = a.Authenticate(ctx, h) })
		synctest.Wait()
		wg.Go(func() { _, stayer = a.Authenticate(context.Background(), h) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		free()
		wg.Wait()
		if !errors.Is(quitter, context.Canceled) {
			t.Errorf("caller that gave up: err = %v, want context.Canceled", quitter)
		}
		if stayer != nil {
			t.Errorf("caller that waited: %v", stayer)
		}
		if got := a.bcrypts.Load(); got != 1 {
			t.Errorf("%d bcrypt checks, want 1", got)
		}
	})
}

// New credentials beyond the queue bound fail fast with ErrBusy; verified
// ones, remembered failures and credentials already queued are not refused.
func TestQueueIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAuth(t)
		ctx := context.Background()
		good, bad := basic("alice", "wonderland"), basic("alice", "known-bad")
		if _, err := a.Authenticate(ctx, good); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, bad); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("bad: %v", err)
		}
		free := holdSlots(a)
		var wg sync.WaitGroup
		var unexpected atomic.Int64
		guess := func(i int) {
			if _, err := a.Authenticate(ctx, basic("alice", fmt.Sprint("guess-", i))); !errors.Is(err, ErrBadCredentials) {
				unexpected.Add(1)
			}
		}
		for i := range a.maxQueued {
			wg.Go(func() { guess(i) })
		}
		synctest.Wait() // the queue is full
		// A credential already queued is joined, not refused.
		wg.Go(func() { guess(0) })
		synctest.Wait()

		// Returns at once: the test would deadlock if it waited.
		if _, err := a.Authenticate(ctx, basic("alice", "one-more")); !errors.Is(err, ErrBusy) {
			t.Errorf("new credential with the queue full: err = %v, want ErrBusy", err)
		}
		if p, err := a.Authenticate(ctx, good); err != nil || p.Name != "alice" {
			t.Errorf("verified credential with the queue full: %+v, %v", p, err)
		}
		if _, err := a.Authenticate(ctx, bad); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("remembered failure with the queue full: err = %v, want ErrBadCredentials", err)
		}

		free()
		wg.Wait()
		if n := unexpected.Load(); n != 0 {
			t.Errorf("%d queued guesses did not get ErrBadCredentials", n)
		}
		if got, want := a.bcrypts.Load(), int64(2+a.maxQueued); got != want {
			t.Errorf("%d bcrypt checks, want %d", got, want)
		}
		if a.queued != 0 || len(a.checks) != 0 {
			t.Errorf("after the queue drained: %d queued, %d checks", a.queued, len(a.checks))
		}
		if _, err := a.Authenticate(ctx, basic("alice", "one-more")); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("new credential after the queue drained: err = %v, want ErrBadCredentials", err)
		}
	})
}

func TestFailedSetIsBounded(t *testing.T) {
	a := newAuth(t)
	for i := range maxFailed + 3 {
		sum := a.sum([]byte("x:" + strings.Repeat("y", i)))
		a.remember(sum)
	}
	if n := len(a.failed); n > maxFailed {
		t.Fatalf("failed set has %d entries, bound %d", n, maxFailed)
	}
}

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		role, need Role
		want       bool
	}{
		{RoleAdmin, RoleAdmin, true},
		{RoleAdmin, RolePredict, true},
		{RolePredict, RolePredict, true},
		{RolePredict, RoleAdmin, false},
		{Role("root"), RolePredict, false},
		{RoleAdmin, Role("root"), false},
	} {
		if got := tc.role.Allows(tc.need); got != tc.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tc.role, tc.need, got, tc.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	h := mustHash(t, "pw")
	for _, tc := range []struct {
		name  string
		users []User
		want  string
	}{
		{"none", nil, "no users"},
		{"duplicate", []User{{"a", RoleAdmin, h}, {"a", RolePredict, h}}, "defined twice"},
		{"empty name", []User{{"", RoleAdmin, h}}, "empty name"},
		{"colon in name", []User{{"a:b", RoleAdmin, h}}, "no ':'"},
		{"unknown role", []User{{"a", "root", h}}, "role \"root\""},
		{"plain password", []User{{"a", RoleAdmin, []byte("secret")}}, "not a bcrypt hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.users)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseUsers(t *testing.T) {
	h1, h2 := string(mustHash(t, "a")), string(mustHash(t, "b"))
	in := "# API users\n\nalice:admin:" + h1 + "\n  bob:predict:" + h2 + " , carol:predict:" + h2 + "\n"
	users, err := ParseUsers("users.txt", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []User{{"alice", RoleAdmin, []byte(h1)}, {"bob", RolePredict, []byte(h2)}, {"carol", RolePredict, []byte(h2)}}
	if len(users) != len(want) {
		t.Fatalf("got %d users, want %d", len(users), len(want))
	}
	for i, u := range users {
		if u.Name != want[i].Name || u.Role != want[i].Role || string(u.Hash) != string(want[i].Hash) {
			t.Errorf("user %d = %+v, want %+v", i, u, want[i])
		}
	}

	for _, tc := range []struct{ in, want string }{
		{"alice:admin", "line 1: want name:role:bcrypt-hash"},
		{"\nalice:boss:" + h1, "role \"boss\""},
		{"alice:admin:plaintext", "not a bcrypt hash"},
		{":admin:" + h1, "want name:role:bcrypt-hash"},
	} {
		_, err := ParseUsers("PRODCAT_API_USERS", strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseUsers(%q) err = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func TestDevUsersAndHash(t *testing.T) {
	dev, err := DevUsers()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(dev)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user string
		role Role
	}{{"admin", RoleAdmin}, {"predict", RolePredict}} {
		p, err := a.Authenticate(context.Background(), basic(c.user, c.user))
		if err != nil || p.Role != c.role {
			t.Errorf("%s/%s: %+v, %v", c.user, c.user, p, err)
		}
	}
	h, err := Hash("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword(h, []byte("s3cret")) != nil {
		t.Error("Hash does not verify")
	}
	if _, err := Hash(""); err == nil {
		t.Error("Hash accepted an empty password")
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	a := newAuth(b)
	ctx := context.Background()
	h := basic("alice", "wonderland")
	if _, err := a.Authenticate(ctx, h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestHasBearer(t *testing.T) {
	for header, want := range map[string]bool{
		"Bearer s3cret": true, "Bearer s3cre": false, "Bearer s3cret ": false, "bearer s3cret": false, "Basic s3cret": false, "": false,
	} {
		if got := HasBearer(header, "s3cret"); got != want {
			t.Errorf("HasBearer(%q) = %v, want %v", header, got, want)
		}
	}
	if HasBearer("Bearer ", "") {
		t.Error("an empty token matched an empty bearer")
	}
}
