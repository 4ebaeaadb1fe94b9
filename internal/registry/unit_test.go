package registry

import (
	"context"
	"errors"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// These tests need no database.

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("embedded migrations = %+v, want 0001 first", ms)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].version <= ms[i-1].version {
			t.Errorf("migrations not in order: %s after %s", ms[i].name, ms[i-1].name)
		}
	}

	ordered, err := loadMigrations(fstest.MapFS{
		"migrations/0010_b.sql": {Data: []byte("b")},
		"migrations/0002_a.sql": {Data: []byte("a")},
	})
	if err != nil || len(ordered) != 2 || ordered[0].version != 2 || ordered[1].version != 10 {
		t.Errorf("numeric order: got %+v, %v", ordered, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no number": {"migrations/init.sql": {}},
		"zero":      {"migrations/0000_init.sql": {}},
		"duplicate": {"migrations/0001_a.sql": {}, "migrations/1_b.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"production", "prdtypecode", "v1.2_rc-3", "A"} {
		if err := checkName("alias", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "a b", "a/b", "é", strings.Repeat("a", 129), "a\x00"} {
		if err := checkName("alias", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestJSONObject(t *testing.T) {
	for in, want := range map[string]string{"": "{}", "null": "{}", ` {"a":1} `: `{"a":1}`} {
		got, err := jsonObject("p", []byte(in))
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"[1]", "1", `"s"`, "{", "{}x"} {
		if _, err := jsonObject("p", []byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCheckMetrics(t *testing.T) {
	if err := checkMetrics(map[string]float64{"weighted_f1": 0.8}); err != nil {
		t.Error(err)
	}
	for _, bad := range []map[string]float64{{"x": math.NaN()}, {"x": math.Inf(1)}, {"": 1}} {
		if err := checkMetrics(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCleanText(t *testing.T) {
	if got := cleanText("a\x00b\xffc", 100); got != "ab\uFFFDc" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("é", 10) // 2 bytes each
	got := cleanText(long, 5)
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "éé") || len(got) > 5+len("…") {
		t.Errorf("cut = %q", got)
	}
}

func TestOpenInvalidURL(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:secretpw@host:notaport/db", nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestInvalidInputNeedsNoDatabase(t *testing.T) {
	// A Registry whose pool was never opened: input checks must fail first.
	r := &Registry{log: discard()}
	ctx := context.Background()
	checks := map[string]error{
		"dataset": r.RecordDataset(ctx, Dataset{}),
		"run":     func() error { _, err := r.StartRun(ctx, Run{Model: "m"}); return err }(),
		"finish":  r.FinishRun(ctx, 1, RunRunning, ""),
		"metrics": r.RecordMetrics(ctx, 1, map[string]float64{"f1": math.NaN()}),
		"version": func() error {
			_, err := r.CreateVersion(ctx, NewVersion{Model: "m", WorkflowID: "w", WorkflowRunID: "r"})
			return err
		}(),
		"params":   func() error { _, err := r.CreateVersion(ctx, validNewVersion("m", "w", "r", "[]")); return err }(),
		"alias":    func() error { _, err := r.SetAlias(ctx, "m", "bad alias", 1, "", ""); return err }(),
		"rollback": func() error { _, err := r.Rollback(ctx, "bad/model", "production", "", ""); return err }(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func validNewVersion(model, wf, run, params string) NewVersion {
	return NewVersion{
		Model: model, WorkflowID: wf, WorkflowRunID: run, DatasetDigest: "d",
		ArtifactKey: "k", ArtifactDigest: "a", Params: []byte(params),
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestOpenUnreachable(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Open(ctx, "postgres://u:pw@"+addr+"/db?sslmode=disable", nil)
	want := "registry: cannot reach PostgreSQL at " + addr
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want prefix %q", err, want)
	}
	err = Listen(ctx, "postgres://u:pw@"+addr+"/db?sslmode=disable", nil, func(AliasEvent) {})
	if err == nil || !strings.Contains(err.Error(), "cannot reach PostgreSQL at "+addr) {
		t.Fatalf("Listen: err = %v, want cannot reach", err)
	}
}

// OpenWait waits out a PostgreSQL that cannot be reached, logging why,
// until its context ends; a URL that cannot work fails at once.
func TestOpenWait(t *testing.T) {
	addr := freePort(t)
	log, hook := test.NewNullLogger()
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_, err := OpenWait(ctx, "postgres://u:pw@"+addr+"/db?sslmode=disable", log)
	if err == nil || !Unreachable(err) {
		t.Errorf("err = %v, want an unreachable database", err)
	}
	if len(hook.AllEntries()) < 1 || hook.AllEntries()[0].Level != logrus.WarnLevel {
		t.Errorf("logged %d lines, want a warning per try", len(hook.AllEntries()))
	}
	hook.Reset()
	if _, err := OpenWait(t.Context(), "postgres://u:pw@"+addr+"/db?sslmode=bogus", log); err == nil || Unreachable(err) {
		t.Errorf("a bad URL: %v, want a failure at once", err)
	}
	if n := len(hook.AllEntries()); n != 0 {
		t.Errorf("a bad URL was retried (%d log lines)", n)
	}
}

// Reads refuse names no row can have before they reach PostgreSQL, which
// fails on NUL and invalid UTF-8 as if it were down. The Registry here has
// no database at all.
func TestReadsRefuseImpossibleNames(t *testing.T) {
	r := &Registry{}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"Versions":     func() error { _, err := r.Versions(ctx, "a\x00b"); return err },
		"Version":      func() error { _, err := r.Version(ctx, "\xff", 1); return err },
		"Aliases":      func() error { _, err := r.Aliases(ctx, "a b"); return err },
		"AliasHistory": func() error { _, err := r.AliasHistory(ctx, "a/b"); return err },
		"Alias":        func() error { _, err := r.Alias(ctx, "m", "\x00"); return err },
		"Feed":         func() error { _, err := r.Feed(ctx, "\x00"); return err },
		"FeedHistory":  func() error { _, err := r.FeedHistory(ctx, "\xfe"); return err },
		"Runs":         func() error { _, err := r.Runs(ctx, "", 1); return err },
		"RollbackTarget": func() error {
			_, _, err := r.RollbackTarget(ctx, "m", "a b")
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// UndoTarget walks the history as a stack of promotions: a rollback pops
// the move it undid, and the next one goes further back.
func TestUndoTarget(t *testing.T) {
	mv := func(id int64, from, to int, rollbackOf int64) AliasMove {
		return AliasMove{ID: id, From: from, To: to, RollbackOf: rollbackOf}
	}
	for _, tc := range []struct {
		name  string
		moves []AliasMove // newest first
		want  int64       // the move undone; 0 for none
	}{
		{"promotion", []AliasMove{mv(2, 1, 2, 0), mv(1, 0, 1, 0)}, 2},
		{"first setting", []AliasMove{mv(1, 0, 1, 0)}, 0},
		{"after a rollback, the move before", []AliasMove{mv(4, 2, 4, 3), mv(3, 4, 2, 0), mv(2, 1, 4, 0), mv(1, 0, 1, 0)}, 2},
		{"after two rollbacks, nothing", []AliasMove{mv(5, 4, 1, 2), mv(4, 2, 4, 3), mv(3, 4, 2, 0), mv(2, 1, 4, 0), mv(1, 0, 1, 0)}, 0},
		{"a move by hand since", []AliasMove{mv(4, 1, 3, 0), mv(3, 2, 1, 2), mv(2, 1, 2, 0), mv(1, 0, 1, 0)}, 4},
		// A rollback written by code from before rollback_of, during a
		// rolling deploy, counts as a move.
		{"an unnamed rollback", []AliasMove{mv(3, 2, 1, 0), mv(2, 1, 2, 0), mv(1, 0, 1, 0)}, 3},
		// A rollback undone (as the migration reads a promotion by hand
		// of the version rolled back from) lets the move it undid stand.
		{"a rollback undone", []AliasMove{mv(4, 1, 2, 3), mv(3, 2, 1, 2), mv(2, 1, 2, 0), mv(1, 0, 1, 0)}, 2},
		{"a history that skips a move", []AliasMove{mv(3, 2, 1, 2), mv(2, 5, 2, 0), mv(1, 0, 9, 0)}, 0},
	} {
		got, err := UndoTarget(tc.moves)
		switch {
		case tc.want == 0 && !errors.Is(err, ErrConflict):
			t.Errorf("%s: %+v, %v; want ErrConflict", tc.name, got, err)
		case tc.want != 0 && (err != nil || got.ID != tc.want):
			t.Errorf("%s: %+v, %v; want move %d", tc.name, got, err, tc.want)
		}
	}
}

// RollbackTargets lists, in one pass, the moves successive rollbacks
// would undo: those UndoTarget finds one rollback after another.
func TestRollbackTargets(t *testing.T) {
	mv := func(id int64, from, to int, rollbackOf int64) AliasMove {
		return AliasMove{ID: id, From: from, To: to, RollbackOf: rollbackOf}
	}
	// 1 → 4 → 3, rolled back to 4, then 2 by hand.
	moves := []AliasMove{mv(5, 4, 2, 0), mv(4, 3, 4, 3), mv(3, 4, 3, 0), mv(2, 1, 4, 0), mv(1, 0, 1, 0)}
	var froms []int
	for _, m := range RollbackTargets(moves, 10) {
		froms = append(froms, m.From)
	}
	// Back to 4, then past the undone move to 3, to 1.
	if want := []int{4, 1}; !slices.Equal(froms, want) {
		t.Errorf("targets go back to %v, want %v", froms, want)
	}
	if got := RollbackTargets(moves, 1); len(got) != 1 || got[0].ID != 5 {
		t.Errorf("first target %+v, want move 5", got)
	}
	if got := RollbackTargets(nil, 3); len(got) != 0 {
		t.Errorf("targets of no history: %+v", got)
	}
}
