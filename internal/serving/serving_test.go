package serving

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
)

const modelName = "prdtypecode"

// fakeRegistry serves one alias.
type fakeRegistry struct {
	mu       sync.Mutex
	aliases  map[string]registry.Version
	versions map[int]registry.Version
	history  []registry.AliasMove // newest first
	err      error
	// calls, when set, receives a value per read of the production alias.
	calls chan struct{}
}

func (f *fakeRegistry) Alias(_ context.Context, m, alias string) (registry.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls != nil && alias == registry.AliasProduction {
		f.calls <- struct{}{}
	}
	v, ok := f.aliases[alias]
	switch {
	case f.err != nil:
		return registry.Version{}, f.err
	case !ok || m != modelName:
		return registry.Version{}, registry.ErrNotFound
	}
	return v, nil
}

// set points production at v.
func (f *fakeRegistry) set(v registry.Version, err error) {
	f.setAlias(registry.AliasProduction, v)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeRegistry) setAlias(alias string, v registry.Version) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aliases == nil {
		f.aliases = map[string]registry.Version{}
		f.versions = map[int]registry.Version{}
	}
	from := f.aliases[alias].Version
	f.aliases[alias] = v
	f.versions[v.Version] = v
	f.history = append([]registry.AliasMove{{ID: int64(len(f.history) + 1), Model: modelName, Alias: alias, From: from, To: v.Version, Moved: true}}, f.history...)
}

func (f *fakeRegistry) AliasHistory(_ context.Context, m string) ([]registry.AliasMove, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return slices.Clone(f.history), nil
}

func (f *fakeRegistry) Version(_ context.Context, m string, v int) (registry.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ver, ok := f.versions[v]
	if f.err != nil {
		return registry.Version{}, f.err
	}
	if !ok {
		return registry.Version{}, registry.ErrNotFound
	}
	return ver, nil
}

func (f *fakeRegistry) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// fakeStore holds files by key and counts reads.
type fakeStore struct {
	mu    sync.Mutex
	files map[string][]byte
	err   error
	gets  int
}

func (f *fakeStore) Get(_ context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return nil, f.err
	}
	data, ok := f.files[key]
	if !ok {
		return nil, errors.New("no such key " + key)
	}
	return data, nil
}

// remove takes key's file away, as a bucket that lost it.
func (f *fakeStore) remove(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, key)
}

func (f *fakeStore) reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

// results records what the reloader observed.
type results struct {
	mu  sync.Mutex
	got []Result
	ch  chan Result
}

func (r *results) observe(res Result) {
	r.mu.Lock()
	r.got = append(r.got, res)
	r.mu.Unlock()
	if r.ch != nil {
		r.ch <- res
	}
}

func (r *results) list() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.got...)
}

type fixture struct {
	reg   *fakeRegistry
	store *fakeStore
	res   *results
	r     *Reloader
	// files of versions 1 and 2.
	v1, v2 []byte
}

func newFixture(t *testing.T, listen ListenFunc, interval time.Duration, standby ...string) *fixture {
	t.Helper()
	f := &fixture{
		reg: &fakeRegistry{}, res: &results{ch: make(chan Result, 100)},
		v1: servingtest.Model(t, "a"), v2: servingtest.Model(t, "b"),
	}
	f.store = &fakeStore{files: map[string][]byte{"models/1.bin": f.v1, "models/2.bin": f.v2}}
	r, err := New(Config{
		Model: modelName, Alias: registry.AliasProduction, Registry: f.reg, Store: f.store,
		Listen: listen, Interval: interval, Observe: f.res.observe, Standby: standby,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

func (f *fixture) promote(version int) { f.point(registry.AliasProduction, version) }

// point moves alias to version 1 or 2.
func (f *fixture) point(alias string, version int) {
	key, data := "models/1.bin", f.v1
	if version == 2 {
		key, data = "models/2.bin", f.v2
	}
	f.reg.setAlias(alias, servingtest.Version(modelName, version, key, data))
}

func serving(t *testing.T, r *Reloader) int {
	t.Helper()
	m := r.Current()
	if m == nil {
		return 0
	}
	p := m.Predict("Robot nettoyeur piscine", "", 2)
	if len(p.Top) != 2 || p.Best.Code == "" {
		t.Fatalf("version %d predicts %+v", m.Version, p)
	}
	return m.Version
}

func TestReloadFollowsTheAlias(t *testing.T) {
	f := newFixture(t, nil, time.Hour)
	ctx := context.Background()

	if err := f.r.Reload(ctx); err != nil {
		t.Fatalf("no alias yet: %v", err)
	}
	if f.r.Current() != nil {
		t.Fatal("a model is served before the alias is set")
	}

	f.promote(1)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	m := f.r.Current()
	if serving(t, f.r) != 1 || m.Name != modelName || m.Digest != servingtest.Digest(f.v1) || m.LoadedAt.IsZero() {
		t.Fatalf("serving %+v, want version 1 of %s", m, modelName)
	}
	if p := m.Predict("Pompe filtration piscine", "", 1); p.Best.Code != "2583" {
		t.Errorf("pool pump predicted as %s", p.Best.Code)
	}

	reads := f.store.reads()
	if err := f.r.Reload(ctx); err != nil || f.store.reads() != reads || f.r.Current() != m {
		t.Fatalf("reload of an unmoved alias: err %v, %d new reads, model replaced %v", err, f.store.reads()-reads, f.r.Current() != m)
	}

	f.promote(2)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v := serving(t, f.r); v != 2 {
		t.Fatalf("serving version %d after promoting 2", v)
	}
	if got := f.res.list(); len(got) != 2 || got[0] != Loaded || got[1] != Loaded {
		t.Errorf("observed %v, want two successes", got)
	}
}

// The smoke prediction refuses a model that answers nonsense, whatever
// got it past decoding.
func TestSmokeRefusesNonsense(t *testing.T) {
	data := servingtest.Model(t, "a")
	m, err := model.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := smoke(m); err != nil {
		t.Fatalf("a sound model: %v", err)
	}
	for c := range m.Linear.B {
		m.Linear.B[c] = float32(math.NaN())
	}
	if err := smoke(m); err == nil {
		t.Error("NaN scores: no error")
	}
	m.Linear = nil
	if err := smoke(m); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("a model that panics: %v", err)
	}
}

func TestBadVersionsKeepTheOldModel(t *testing.T) {
	// spoil rewrites a model file with its first weight set to w, which
	// Encode would refuse: it writes a marker and patches its bytes, then
	// the checksum.
	spoil := func(t *testing.T, data []byte, w float32) []byte {
		m, err := model.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		const marker = float32(12345.678)
		m.Linear.W[0] = marker
		out, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		body := out[:len(out)-sha256.Size]
		old := binary.LittleEndian.AppendUint32(nil, math.Float32bits(marker))
		if bytes.Count(body, old) != 1 {
			t.Fatal("the marker weight is not unique in the file")
		}
		body = bytes.Replace(body, old, binary.LittleEndian.AppendUint32(nil, math.Float32bits(w)), 1)
		sum := sha256.Sum256(body)
		return append(body, sum[:]...)
	}
	for _, tc := range []struct {
		name string
		// setup points the alias at a bad version 2.
		setup   func(t *testing.T, f *fixture)
		want    string
		retried bool // the next reload fetches the file again
	}{
		{"digest differs from the registry", func(t *testing.T, f *fixture) {
			v := servingtest.Version(modelName, 2, "models/2.bin", f.v2)
			v.ArtifactDigest = servingtest.Digest(f.v1)
			f.reg.set(v, nil)
		}, "the registry recorded", false},
		{"not a model file", func(t *testing.T, f *fixture) {
			junk := []byte("PK\x03\x04 not a model")
			f.store.files["models/junk.bin"] = junk
			f.reg.set(servingtest.Version(modelName, 2, "models/junk.bin", junk), nil)
		}, "not a prodcat model file", false},
		{"truncated file", func(t *testing.T, f *fixture) {
			cut := f.v2[:len(f.v2)-10]
			f.store.files["models/cut.bin"] = cut
			f.reg.set(servingtest.Version(modelName, 2, "models/cut.bin", cut), nil)
		}, "checksum", false},
		{"NaN weights", func(t *testing.T, f *fixture) {
			bad := spoil(t, f.v2, float32(math.NaN()))
			f.store.files["models/nan.bin"] = bad
			f.reg.set(servingtest.Version(modelName, 2, "models/nan.bin", bad), nil)
		}, "weight 0 is NaN", false},
		{"weights that overflow", func(t *testing.T, f *fixture) {
			// Finite, but scores summed in float32 would reach infinity
			// and the probabilities NaN.
			bad := spoil(t, f.v2, math.MaxFloat32)
			f.store.files["models/overflow.bin"] = bad
			f.reg.set(servingtest.Version(modelName, 2, "models/overflow.bin", bad), nil)
		}, "weight 0 is 3.4028235e+38", false},
		{"store unreachable", func(t *testing.T, f *fixture) {
			f.promote(2)
			f.store.err = errors.New("connection refused")
		}, "connection refused", true},
		{"registry unreachable", func(t *testing.T, f *fixture) {
			f.reg.fail(errors.New("registry: cannot reach PostgreSQL"))
		}, "cannot reach PostgreSQL", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, time.Hour)
			ctx := context.Background()
			f.promote(1)
			if err := f.r.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, f)
			err := f.r.Reload(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if v := serving(t, f.r); v != 1 {
				t.Fatalf("serving version %d after a failed reload, want 1", v)
			}
			// Behind says the alias's version is not the one served, when
			// the alias could be read.
			if want := map[bool]int{true: 0, false: 2}[tc.name == "registry unreachable"]; f.r.Behind() != want {
				t.Errorf("Behind() = %d after the failed reload, want %d", f.r.Behind(), want)
			}
			if got := f.res.list(); len(got) != 2 || got[1] != Failed {
				t.Fatalf("observed %v, want a success then a failure", got)
			}
			reads := f.store.reads()
			err = f.r.Reload(ctx)
			if retried := f.store.reads() > reads || err != nil; retried != tc.retried {
				t.Errorf("second reload retried = %v (err %v), want %v", retried, err, tc.retried)
			}
			if tc.name == "store unreachable" {
				f.store.err = nil
				if err := f.r.Reload(ctx); err != nil || serving(t, f.r) != 2 || f.r.Behind() != 0 {
					t.Errorf("once the store answers: err %v, serving %d, Behind() %d; want v2 served and 0", err, serving(t, f.r), f.r.Behind())
				}
			}
		})
	}
}

func TestRejectedVersionIsRetriedAfterTheAliasMoves(t *testing.T) {
	f := newFixture(t, nil, time.Hour)
	ctx := context.Background()
	junk := []byte("junk")
	f.store.files["models/junk.bin"] = junk
	f.reg.set(servingtest.Version(modelName, 1, "models/junk.bin", junk), nil)
	if err := f.r.Reload(ctx); err == nil {
		t.Fatal("junk loaded")
	}
	if f.r.Current() != nil {
		t.Fatal("junk is served")
	}
	f.promote(2)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v := serving(t, f.r); v != 2 {
		t.Fatalf("serving %d, want 2", v)
	}

	// Back to the rejected file: not fetched again, but Behind says the
	// alias's version is not the one served.
	junk3 := servingtest.Version(modelName, 3, "models/junk.bin", junk)
	f.reg.set(junk3, nil)
	if err := f.r.Reload(ctx); err == nil || f.r.Behind() != 3 {
		t.Fatalf("junk v3: err %v, Behind() %d; want an error and 3", err, f.r.Behind())
	}
	f.promote(2)
	if err := f.r.Reload(ctx); err != nil || f.r.Behind() != 0 {
		t.Fatalf("back to v2: err %v, Behind() %d; want 0", err, f.r.Behind())
	}
	f.reg.set(junk3, nil)
	if err := f.r.Reload(ctx); err != nil || f.r.Behind() != 3 || serving(t, f.r) != 2 {
		t.Errorf("junk v3 again: err %v, Behind() %d, serving %d; want no fetch, 3, v2", err, f.r.Behind(), serving(t, f.r))
	}
}

// waitFor returns when the reloader observed a result and serves version
// want; the test's own deadline bounds it.
func waitFor(t *testing.T, f *fixture, want int) {
	t.Helper()
	for serving(t, f.r) != want {
		select {
		case <-f.res.ch:
		case <-t.Context().Done():
			t.Fatalf("never served version %d", want)
		}
	}
}

func TestRunReloadsOnNotification(t *testing.T) {
	events := make(chan registry.AliasEvent)
	var listens atomic.Int32
	listen := func(ctx context.Context, fn func(registry.AliasEvent)) error {
		if listens.Add(1) == 1 {
			return errors.New("registry: listen: cannot reach PostgreSQL")
		}
		fn(registry.AliasEvent{Resync: true})
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-events:
				fn(ev)
			}
		}
	}
	// Polling is off (an hour): only notifications can move the model.
	f := newFixture(t, listen, time.Hour)
	f.reg.calls = make(chan struct{}, 10)
	f.promote(1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.r.Run(ctx); close(done) }()
	// The first read loads version 1; the second follows the resync of the
	// listener's second, successful connection.
	<-f.reg.calls
	<-f.reg.calls
	if v := serving(t, f.r); v != 1 {
		t.Fatalf("serving %d, want 1", v)
	}
	f.promote(2)
	events <- registry.AliasEvent{Model: modelName, Alias: registry.AliasProduction, From: 1, To: 2}
	waitFor(t, f, 2)
	if n := listens.Load(); n != 2 {
		t.Errorf("listened %d times, want 2 (one failure, one success)", n)
	}
	cancel()
	<-done
}

func TestConcerns(t *testing.T) {
	f := newFixture(t, nil, time.Hour, "staging")
	for _, tc := range []struct {
		ev   registry.AliasEvent
		want bool
	}{
		{registry.AliasEvent{Model: modelName, Alias: registry.AliasProduction, From: 1, To: 2}, true},
		{registry.AliasEvent{Resync: true}, true},
		{registry.AliasEvent{Model: modelName, Alias: "staging", From: 1, To: 2}, true},
		{registry.AliasEvent{Model: modelName, Alias: registry.AliasChallenger, From: 1, To: 2}, false},
		{registry.AliasEvent{Model: "other", Alias: registry.AliasProduction, From: 1, To: 2}, false},
	} {
		if got := f.r.concerns(tc.ev); got != tc.want {
			t.Errorf("concerns(%+v) = %v, want %v", tc.ev, got, tc.want)
		}
	}
}

func TestRunPolls(t *testing.T) {
	f := newFixture(t, nil, 5*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.r.Run(ctx); close(done) }()
	f.promote(1)
	waitFor(t, f, 1)
	f.promote(2)
	waitFor(t, f, 2)
	cancel()
	<-done
}

func TestConcurrentPredictionsDuringSwaps(t *testing.T) {
	f := newFixture(t, nil, time.Hour)
	ctx := context.Background()
	f.promote(1)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := f.r.Current()
				if p := m.Predict("Manette sans fil", "", 3); len(p.Top) != 3 {
					t.Errorf("version %d: %d labels", m.Version, len(p.Top))
					return
				}
			}
		})
	}
	for i := range 20 {
		f.promote(1 + i%2)
		if err := f.r.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestNewValidates(t *testing.T) {
	reg, store := &fakeRegistry{}, &fakeStore{}
	for _, c := range []Config{
		{Alias: "production", Registry: reg, Store: store, Interval: time.Second},
		{Model: "m", Registry: reg, Store: store, Interval: time.Second},
		{Model: "m", Alias: "production", Store: store, Interval: time.Second},
		{Model: "m", Alias: "production", Registry: reg, Interval: time.Second},
		{Model: "m", Alias: "production", Registry: reg, Store: store},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// TestStandby checks that the challenger is loaded ahead, so that its
// promotion, and a rollback to the version served before, swap models
// already in memory without fetching anything.
func TestStandby(t *testing.T) {
	f := newFixture(t, nil, time.Hour, registry.AliasChallenger)
	ctx := context.Background()
	f.promote(1)
	f.point(registry.AliasChallenger, 2)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v := serving(t, f.r); v != 1 || f.store.reads() != 2 || f.r.ready[2] == nil {
		t.Fatalf("serving %d after %d reads, challenger ready %v", v, f.store.reads(), f.r.ready[2] != nil)
	}

	f.promote(2) // the challenger is promoted
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v := serving(t, f.r); v != 2 || f.store.reads() != 2 {
		t.Fatalf("after promoting the challenger: serving %d, %d reads (want 2, 2)", v, f.store.reads())
	}
	f.promote(1) // rolled back
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v := serving(t, f.r); v != 1 || f.store.reads() != 2 {
		t.Fatalf("after a rollback: serving %d, %d reads (want 1, 2)", v, f.store.reads())
	}
	if got := f.res.list(); len(got) != 3 || got[1] != Loaded || got[2] != Loaded {
		t.Errorf("observed %v, want three successes", got)
	}
	if len(f.r.ready) != 1 || f.r.ready[2] == nil {
		t.Errorf("ready %v, want only version 2 (previous and challenger)", f.r.ready)
	}
}

// TestBadStandbyDoesNotAffectServing checks that a challenger that fails
// validation is only logged, and is rejected when promoted.
func TestBadStandbyDoesNotAffectServing(t *testing.T) {
	f := newFixture(t, nil, time.Hour, registry.AliasChallenger)
	ctx := context.Background()
	junk := []byte("junk")
	f.store.files["models/junk.bin"] = junk
	f.promote(1)
	f.reg.setAlias(registry.AliasChallenger, servingtest.Version(modelName, 2, "models/junk.bin", junk))
	for range 2 { // the second reload does not fetch the junk again
		if err := f.r.Reload(ctx); err != nil {
			t.Fatalf("a bad challenger failed the reload: %v", err)
		}
	}
	if v := serving(t, f.r); v != 1 || f.store.reads() != 2 || len(f.r.ready) != 0 {
		t.Fatalf("serving %d after %d reads, %d ready", v, f.store.reads(), len(f.r.ready))
	}
	f.reg.set(servingtest.Version(modelName, 2, "models/junk.bin", junk), nil)
	if err := f.r.Reload(ctx); err == nil || serving(t, f.r) != 1 {
		t.Fatalf("promoting the bad challenger: err %v, serving %d", err, serving(t, f.r))
	}
	if got := f.res.list(); len(got) != 2 || got[1] != Failed {
		t.Errorf("observed %v, want a success then a failure", got)
	}
}

// TestStandbyForgetsOldVersions checks that models no alias is likely to
// bring back are dropped.
func TestStandbyForgetsOldVersions(t *testing.T) {
	f := newFixture(t, nil, time.Hour, registry.AliasChallenger)
	ctx := context.Background()
	third := servingtest.Model(t, "c")
	f.store.files["models/3.bin"] = third
	f.promote(1)
	f.point(registry.AliasChallenger, 2)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	f.reg.setAlias(registry.AliasChallenger, servingtest.Version(modelName, 3, "models/3.bin", third))
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.r.ready) != 1 || f.r.ready[3] == nil {
		t.Errorf("ready %v, want only the new challenger 3", f.r.ready)
	}
}

// Loading holds from start until the first reload ends, whatever its end.
func TestLoadingUntilTheFirstReload(t *testing.T) {
	f := newFixture(t, nil, time.Hour)
	if !f.r.Loading() {
		t.Error("not loading before the first reload")
	}
	_ = f.r.Reload(context.Background()) // no alias is set yet: nothing to serve
	if f.r.Loading() || f.r.Current() != nil {
		t.Errorf("after a reload with no alias: loading %v, serving %v", f.r.Loading(), f.r.Current())
	}
}

// Started while production's file is missing, the service serves the
// version production pointed at before, says which it should serve, and
// serves that one once it can.
func TestColdStartFallsBackOnTheVersionBefore(t *testing.T) {
	f := newFixture(t, nil, time.Hour)
	f.promote(1)
	f.promote(2)
	f.store.mu.Lock()
	v2 := f.store.files["models/2.bin"]
	delete(f.store.files, "models/2.bin")
	f.store.mu.Unlock()
	ctx := context.Background()
	if err := f.r.Reload(ctx); err == nil {
		t.Error("the missing file was not reported")
	}
	if v := serving(t, f.r); v != 1 || f.r.Behind() != 2 || f.r.Loading() {
		t.Fatalf("serving %d, behind %d; want 1, behind 2", v, f.r.Behind())
	}
	f.store.mu.Lock()
	f.store.files["models/2.bin"] = v2
	f.store.mu.Unlock()
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v := serving(t, f.r); v != 2 || f.r.Behind() != 0 {
		t.Errorf("after the file came back: serving %d, behind %d", v, f.r.Behind())
	}

	// A version production was moved back from is never fallen back on.
	h := newFixture(t, nil, time.Hour)
	h.promote(1)
	h.promote(2)
	h.promote(1) // a rollback: 2 was taken out of service
	h.reg.mu.Lock()
	h.reg.history[0].RollbackOf = h.reg.history[1].ID
	h.reg.mu.Unlock()
	h.store.remove("models/1.bin")
	_ = h.r.Reload(ctx)
	if h.r.Current() != nil || h.r.Behind() != 1 {
		t.Errorf("after a rollback: serving %v, behind %d; want nothing, behind 1", h.r.Current(), h.r.Behind())
	}

	// A version promoted again by hand after a rollback is fallen back on,
	// as a rollback would go to it.
	j := newFixture(t, nil, time.Hour)
	j.promote(1)
	j.promote(2)
	j.promote(1) // a rollback of 2
	j.reg.mu.Lock()
	j.reg.history[0].RollbackOf = j.reg.history[1].ID
	j.reg.mu.Unlock()
	j.promote(2) // promoted again by hand
	j.promote(1) // and 1 once more, whose file then goes
	j.store.remove("models/1.bin")
	_ = j.r.Reload(ctx)
	if v := serving(t, j.r); v != 2 || j.r.Behind() != 1 {
		t.Errorf("after a promotion by hand since the rollback: serving %d, behind %d; want 2, behind 1", v, j.r.Behind())
	}

	// Nor on one a second rollback went back from: 1 → 3 → 2, rolled back
	// to 3 and then to 1. The second rollback is no reversal of the move
	// before it, but 3 is out of service all the same.
	k := newFixture(t, nil, time.Hour)
	k.promote(2)
	k.promote(1)
	v3 := servingtest.Model(t, "c")
	k.reg.mu.Lock()
	k.store.mu.Lock()
	k.store.files["models/3.bin"] = v3
	k.store.mu.Unlock()
	k.reg.versions[3] = servingtest.Version(modelName, 3, "models/3.bin", v3)
	k.reg.history = []registry.AliasMove{ // newest first
		{ID: 5, Model: modelName, Alias: registry.AliasProduction, From: 3, To: 1, RollbackOf: 2, Moved: true},
		{ID: 4, Model: modelName, Alias: registry.AliasProduction, From: 2, To: 3, RollbackOf: 3, Moved: true},
		{ID: 3, Model: modelName, Alias: registry.AliasProduction, From: 3, To: 2, Moved: true},
		{ID: 2, Model: modelName, Alias: registry.AliasProduction, From: 1, To: 3, Moved: true},
		{ID: 1, Model: modelName, Alias: registry.AliasProduction, From: 0, To: 1, Moved: true},
	}
	k.reg.mu.Unlock()
	k.store.remove("models/1.bin")
	_ = k.r.Reload(ctx)
	if k.r.Current() != nil || k.r.Behind() != 1 {
		t.Errorf("after a rollback two promotions back: serving %v, behind %d; want nothing, behind 1", k.r.Current(), k.r.Behind())
	}

	// With no earlier version to fall back on, nothing is served.
	g := newFixture(t, nil, time.Hour)
	g.promote(2)
	g.store.remove("models/2.bin")
	_ = g.r.Reload(ctx)
	if g.r.Current() != nil || g.r.Behind() != 2 {
		t.Errorf("no earlier version: serving %v, behind %d", g.r.Current(), g.r.Behind())
	}
}

// A registry outage is an error once, then warnings, and its end is said:
// a poll every few seconds must not page someone for each.
func TestRegistryOutageIsLoggedOnce(t *testing.T) {
	f := newFixture(t, nil, time.Hour, "challenger")
	log, hook := logtest.NewNullLogger()
	f.r.log = log
	ctx := context.Background()
	f.promote(1)
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	hook.Reset()
	f.reg.mu.Lock()
	f.reg.err = errors.New("registry: cannot reach PostgreSQL")
	f.reg.mu.Unlock()
	for range 3 {
		if err := f.r.Reload(ctx); err == nil {
			t.Fatal("a reload without the registry succeeded")
		}
	}
	f.reg.mu.Lock()
	f.reg.err = nil
	f.reg.mu.Unlock()
	if err := f.r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hook.AllEntries() {
		got = append(got, e.Level.String()+": "+e.Message)
	}
	want := []string{
		"error: serving: cannot check for a new model",
		"warning: serving: cannot check for a new model",
		"warning: serving: cannot check for a new model",
		"info: serving: the registry answers again",
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if serving(t, f.r) != 1 {
		t.Error("the model served through the outage changed")
	}
	// An outage that ends on an alias not set is over too: the next one
	// is an error again.
	hook.Reset()
	for _, err := range []error{errors.New("registry: cannot reach PostgreSQL"), registry.ErrNotFound, errors.New("registry: cannot reach PostgreSQL")} {
		f.reg.mu.Lock()
		f.reg.err = err
		f.reg.mu.Unlock()
		_ = f.r.Reload(ctx)
	}
	got = got[:0]
	for _, e := range hook.AllEntries() {
		if e.Message != "serving: the alias is not set yet; predictions answer 503 until a model is promoted" {
			got = append(got, e.Level.String()+": "+e.Message)
		}
	}
	want = []string{
		"error: serving: cannot check for a new model",
		"info: serving: the registry answers again",
		"error: serving: cannot check for a new model",
	}
	if !slices.Equal(got, want) {
		t.Errorf("after an outage that ended on no alias: logged %q, want %q", got, want)
	}
}
