package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestFeedVersions(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	if _, err := r.Feed(ctx, "catalogue"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Feed before publishing: err = %v, want ErrNotFound", err)
	}
	if _, err := r.FeedHistory(ctx, "catalogue"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FeedHistory before publishing: err = %v, want ErrNotFound", err)
	}

	v1, added, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(`{"x_key":"raw/a.csv","y_key":"raw/b.csv"}`), "ana", "first export")
	if err != nil || !added || v1.Version != 1 || v1.Actor != "ana" || v1.Note != "first export" {
		t.Fatalf("first publish = %+v, %v, %v; want version 1 added by ana", v1, added, err)
	}
	// The same source, keys in another order, is the same version.
	again, added, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(`{"y_key":"raw/b.csv", "x_key":"raw/a.csv"}`), "bob", "")
	if err != nil || added || again.Version != 1 || again.Actor != "ana" {
		t.Fatalf("publishing the same source = %+v, %v, %v; want version 1 unchanged", again, added, err)
	}
	v2, added, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(`{"x_key":"raw/c.csv","y_key":"raw/d.csv"}`), "bob", "")
	if err != nil || !added || v2.Version != 2 {
		t.Fatalf("second publish = %+v, %v, %v; want version 2", v2, added, err)
	}
	if _, _, err := r.PublishFeed(ctx, "other", json.RawMessage(`{"csv_key":"raw/e.csv"}`), "", ""); err != nil {
		t.Fatal(err)
	}

	latest, err := r.Feed(ctx, "catalogue")
	if err != nil {
		t.Fatal(err)
	}
	var src map[string]string
	if err := json.Unmarshal(latest.Source, &src); err != nil {
		t.Fatal(err)
	}
	if latest.Version != 2 || src["x_key"] != "raw/c.csv" || src["y_key"] != "raw/d.csv" {
		t.Errorf("latest = %+v (source %v), want version 2 on raw/c.csv and raw/d.csv", latest, src)
	}
	hist, err := r.FeedHistory(ctx, "catalogue")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 {
		t.Errorf("history = %+v, want versions 2 then 1", hist)
	}
	all, err := r.Feeds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Feed != "catalogue" || all[0].Version != 2 || all[1].Feed != "other" || all[1].Version != 1 {
		t.Errorf("feeds = %+v, want catalogue v2 and other v1", all)
	}
}

func TestPublishFeedInvalid(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	for name, c := range map[string]struct {
		feed   string
		source string
	}{
		"bad name":      {"no spaces", `{"csv_key":"raw/a.csv"}`},
		"empty name":    {"", `{"csv_key":"raw/a.csv"}`},
		"not an object": {"f", `["raw/a.csv"]`},
		"malformed":     {"f", `{"csv_key":`},
		"empty source":  {"f", `{}`},
		"null source":   {"f", `null`},
		"blank object":  {"f", `{ }`},
		"NUL":           {"f", `{"csv_key":"raw/a\u0000.csv"}`},
		"bad UTF-8":     {"f", "{\"csv_key\":\"raw/\xff.csv\"}"},
	} {
		if _, _, err := r.PublishFeed(ctx, c.feed, json.RawMessage(c.source), "", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if all, err := r.Feeds(ctx); err != nil || len(all) != 0 {
		t.Errorf("after invalid publishes: feeds = %+v, %v; want none", all, err)
	}
}

func TestPublishFeedConcurrent(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, _, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(fmt.Sprintf(`{"csv_key":"raw/%d.csv"}`, i)), "", "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	hist, err := r.FeedHistory(ctx, "catalogue")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != n {
		t.Fatalf("%d versions after %d distinct publishes, want %d", len(hist), n, n)
	}
	for i, v := range hist {
		if v.Version != n-i {
			t.Errorf("history[%d].Version = %d, want %d", i, v.Version, n-i)
		}
	}
}

// A note and an actor are text for people: a NUL or invalid UTF-8 in them
// is cleaned, not sent to PostgreSQL, which would refuse the row.
func TestPublishFeedCleansNotes(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	v, added, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(`{"csv_key":"raw/a.csv"}`), "ana\x00", "export\x00 of \xffmonday")
	if err != nil || !added {
		t.Fatalf("publish: %+v, %v, %v", v, added, err)
	}
	if v.Actor != "ana" || v.Note != "export of \uFFFDmonday" {
		t.Errorf("actor %q, note %q; want them cleaned", v.Actor, v.Note)
	}
}

func TestRunOnFeedIsLineage(t *testing.T) {
	r := newRegistry(t)
	ctx := testCtx(t)
	recordDataset(t, r, "ds1")
	if _, _, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(`{"csv_key":"raw/a.csv"}`), "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.PublishFeed(ctx, "catalogue", json.RawMessage(`{"csv_key":"raw/b.csv"}`), "", ""); err != nil {
		t.Fatal(err)
	}

	run, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r1", DatasetDigest: "ds1", Feed: "catalogue", FeedVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	if run.Feed != "catalogue" || run.FeedVersion != 1 {
		t.Errorf("run = %+v, want feed catalogue version 1", run)
	}
	// A retry keeps the version the run first read.
	again, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r1", DatasetDigest: "ds1", Feed: "catalogue", FeedVersion: 2})
	if err != nil || again.ID != run.ID || again.FeedVersion != 1 {
		t.Errorf("retried StartRun = %+v, %v; want run %d still on version 1", again, err, run.ID)
	}
	got, err := r.Run(ctx, run.ID)
	if err != nil || got.Feed != "catalogue" || got.FeedVersion != 1 {
		t.Errorf("Run = %+v, %v; want feed catalogue version 1", got, err)
	}

	nv := newVersion("m", "wf", "r1")
	nv.RunID = run.ID
	v, err := r.CreateVersion(ctx, nv)
	if err != nil {
		t.Fatal(err)
	}
	if v.Feed != "catalogue" || v.FeedVersion != 1 {
		t.Errorf("created version = %+v, want lineage to feed catalogue version 1", v)
	}
	if _, err := r.SetAlias(ctx, "m", "production", v.Version, "", ""); err != nil {
		t.Fatal(err)
	}
	if prod, err := r.Alias(ctx, "m", "production"); err != nil || prod.Feed != "catalogue" || prod.FeedVersion != 1 {
		t.Errorf("production = %+v, %v; want lineage to feed catalogue version 1", prod, err)
	}
	// A version of a run on fixed objects names no feed.
	fixed, err := r.StartRun(ctx, Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r2", DatasetDigest: "ds1"})
	if err != nil {
		t.Fatal(err)
	}
	nv = newVersion("m", "wf", "r2")
	nv.RunID = fixed.ID
	if v, err := r.CreateVersion(ctx, nv); err != nil || v.Feed != "" || v.FeedVersion != 0 {
		t.Errorf("version of a run on fixed objects = %+v, %v; want no feed", v, err)
	}

	for _, tc := range []struct {
		run  Run
		want error
	}{
		{Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r3", Feed: "catalogue", FeedVersion: 3}, ErrNotFound},
		{Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r3", Feed: "never", FeedVersion: 1}, ErrNotFound},
		{Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r3", Feed: "catalogue"}, ErrInvalid},
		{Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r3", FeedVersion: 1}, ErrInvalid},
		{Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r3", Feed: "catalogue", FeedVersion: -1}, ErrInvalid},
		{Run{Model: "m", WorkflowID: "wf", WorkflowRunID: "r3", Feed: "bad name", FeedVersion: 1}, ErrInvalid},
	} {
		if _, err := r.StartRun(ctx, tc.run); !errors.Is(err, tc.want) {
			t.Errorf("StartRun(feed %q version %d): err = %v, want %v", tc.run.Feed, tc.run.FeedVersion, err, tc.want)
		}
	}
}
