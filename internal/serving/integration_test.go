package serving

import (
	"context"
	"testing"
	"time"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/internal/testenv"
)

// liveFixture is a reloader on the real registry (in a schema of its own)
// and the real bucket.
type liveFixture struct {
	reg     *registry.Registry
	store   *artifact.Store
	model   string
	r       *Reloader
	results chan Result
}

func newLive(t *testing.T, listenDSN string, interval time.Duration) *liveFixture {
	t.Helper()
	testenv.Integration(t)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	reg, dsn := servingtest.Registry(t, cfg.DatabaseURL)
	if listenDSN == "" {
		listenDSN = dsn
	}
	store, err := artifact.New(cfg.S3)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &liveFixture{reg: reg, store: store, model: servingtest.RandomName("servingtest-"), results: make(chan Result, 100)}
	f.r, err = New(Config{
		Model: f.model, Alias: registry.AliasProduction, Registry: reg, Store: store,
		Listen: func(ctx context.Context, fn func(registry.AliasEvent)) error {
			return registry.Listen(ctx, listenDSN, nil, fn)
		},
		Interval: interval,
		Observe:  func(r Result) { f.results <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *liveFixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (f *liveFixture) promote(t *testing.T, v registry.Version) time.Time {
	t.Helper()
	if _, err := f.reg.SetAlias(t.Context(), f.model, registry.AliasProduction, v.Version, "test", "servingtest"); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// next waits for the reloader's next load attempt.
func (f *liveFixture) next(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-f.results:
		return r
	case <-t.Context().Done():
		t.Fatal("no reload happened")
		return ""
	}
}

func (f *liveFixture) serving() int {
	if m := f.r.Current(); m != nil {
		return m.Version
	}
	return 0
}

// TestLiveReloadOnNotify follows the production alias through
// notifications alone: polling is set to an hour.
func TestLiveReloadOnNotify(t *testing.T) {
	f := newLive(t, "", time.Hour)
	a, b := servingtest.Model(t, "a"), servingtest.Model(t, "b")
	v1 := servingtest.Publish(t, f.reg, f.store, f.model, a, nil)
	f.promote(t, v1)
	f.run(t)
	if r := f.next(t); r != Loaded || f.serving() != v1.Version {
		t.Fatalf("first load: %s, serving %d", r, f.serving())
	}

	v2 := servingtest.Publish(t, f.reg, f.store, f.model, b, nil)
	promoted := f.promote(t, v2)
	if r := f.next(t); r != Loaded || f.serving() != v2.Version {
		t.Fatalf("after promoting v%d: %s, serving %d", v2.Version, r, f.serving())
	}
	t.Logf("v%d served %v after the alias moved (NOTIFY, fetch, verify, smoke test, swap)", v2.Version, time.Since(promoted))
	if got := f.r.Current().Digest; got != v2.ArtifactDigest {
		t.Errorf("serving digest %s, registry has %s", got, v2.ArtifactDigest)
	}

	// A file that is not a model, then a registry digest that does not match
	// the file: both are rejected and v2 keeps serving.
	junk, err := f.store.Put(t.Context(), artifact.Model, []byte("not a model"), ".bin", "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	f.promote(t, servingtest.Register(t, f.reg, f.store, f.model, junk.Key, junk.Digest, nil))
	if r := f.next(t); r != Failed || f.serving() != v2.Version {
		t.Fatalf("junk: %s, serving %d", r, f.serving())
	}
	f.promote(t, servingtest.Register(t, f.reg, f.store, f.model, v1.ArtifactKey, v2.ArtifactDigest, nil))
	if r := f.next(t); r != Failed || f.serving() != v2.Version {
		t.Fatalf("digest mismatch: %s, serving %d", r, f.serving())
	}

	// Moving back to v1 loads it again.
	f.promote(t, v1)
	if r := f.next(t); r != Loaded || f.serving() != v1.Version {
		t.Fatalf("back to v1: %s, serving %d", r, f.serving())
	}
}

// TestLivePollingFallback follows the alias by polling when the listener
// cannot connect.
func TestLivePollingFallback(t *testing.T) {
	f := newLive(t, "postgres://nobody:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", 20*time.Millisecond)
	v1 := servingtest.Publish(t, f.reg, f.store, f.model, servingtest.Model(t, "a"), nil)
	v2 := servingtest.Publish(t, f.reg, f.store, f.model, servingtest.Model(t, "b"), nil)
	f.run(t)
	f.promote(t, v1)
	f.waitServing(t, v1.Version)
	f.promote(t, v2)
	f.waitServing(t, v2.Version)
}

func (f *liveFixture) waitServing(t *testing.T, version int) {
	t.Helper()
	for f.serving() != version {
		if r := f.next(t); r != Loaded {
			t.Fatalf("reload %s while waiting for v%d", r, version)
		}
	}
}
