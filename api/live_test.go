package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/dataset"
	evalmetrics "github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/internal/testenv"
)

// Live tests run the whole API in process, on a random loopback port,
// against the real registry (in a PostgreSQL schema of their own), the real
// bucket and the real Temporal, with a model trained on the rakuten split.

// liveAPI is a running API and the registry it serves from.
type liveAPI struct {
	url   string
	cfg   config.Config
	reg   *registry.Registry
	store *artifact.Store
	// v1 is production, v2 challenger; v3 has no alias.
	v1, v2, v3 registry.Version
	logs       *lockedBuffer
}

// lockedBuffer collects the API's log lines for failure reports.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rakutenModel trains the default model on the rakuten training split and
// returns the files of three variants and the evaluation report on the
// test split. The variants differ only in their metadata: same
// predictions, other digests, so that promoting one is a real reload.
func rakutenModel(t *testing.T) (variants [3][]byte, report []byte) {
	t.Helper()
	read := func(x, y string) []dataset.Example {
		xf, err := os.Open(testenv.Split(t, "rakuten", x))
		if err != nil {
			t.Fatal(err)
		}
		defer xf.Close()
		yf, err := os.Open(testenv.Split(t, "rakuten", y))
		if err != nil {
			t.Fatal(err)
		}
		defer yf.Close()
		ds, err := dataset.ReadRaw(xf, yf, dataset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return ds.Examples
	}
	train, test := read("X_train.csv", "Y_train.csv"), read("X_test.csv", "Y_test.csv")
	m, err := classifier.Train(t.Context(), train, classifier.DefaultParams(), classifier.Options{}, map[string]string{"variant": "a"})
	if err != nil {
		t.Fatal(err)
	}
	classifier.NameRakuten(m) // the challenge's files, as the pipeline names them
	for i, name := range []string{"a", "b", "c"} {
		m.Metadata["variant"] = name
		if variants[i], err = m.Encode(); err != nil {
			t.Fatal(err)
		}
	}

	labels := make([]string, len(m.Labels))
	index := map[string]int{}
	for i, l := range m.Labels {
		labels[i], index[l.Code] = l.Code, i
	}
	var yTrue, yPred []int
	for _, ex := range test {
		if i, ok := index[ex.Label]; ok {
			yTrue = append(yTrue, i)
			yPred = append(yPred, m.Classify(ex.Title, ex.Body))
		}
	}
	rep, err := evalmetrics.Evaluate(labels, yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	if report, err = json.Marshal(activities.Report{ModelKey: "models/rakuten", HoldoutKey: "rakuten/test", Rows: rep.N, Metrics: rep}); err != nil {
		t.Fatal(err)
	}
	return variants, report
}

// startLive starts the API with the development accounts.
func startLive(t *testing.T) *liveAPI {
	t.Helper()
	testenv.Integration(t)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	variants, report := rakutenModel(t)
	reg, dsn := servingtest.Registry(t, cfg.DatabaseURL)
	store, err := artifact.New(cfg.S3)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = dsn
	cfg.ModelName = servingtest.RandomName("apitest-")
	cfg.API.DevMode, cfg.API.Users, cfg.API.UsersFile = true, "", ""
	live := &liveAPI{cfg: cfg, reg: reg, store: store, logs: &lockedBuffer{}}
	live.v1 = servingtest.Publish(t, reg, store, cfg.ModelName, variants[0], report)
	live.v2 = servingtest.Publish(t, reg, store, cfg.ModelName, variants[1], report)
	live.v3 = servingtest.Publish(t, reg, store, cfg.ModelName, variants[2], report)
	for alias, v := range map[string]int{registry.AliasProduction: live.v1.Version, registry.AliasChallenger: live.v2.Version} {
		if _, err := reg.SetAlias(t.Context(), cfg.ModelName, alias, v, "first model", "apitest"); err != nil {
			t.Fatal(err)
		}
	}

	log := logrus.New()
	log.SetOutput(live.logs)
	log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	log.SetLevel(logrus.InfoLevel)
	app, err := newApp(t.Context(), cfg, log, newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	live.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	hs := newHTTPServer(app.srv.handler(), io.Discard)
	go func() { served <- app.serve(ctx, hs, ln.Addr(), startServing(hs, ln)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		app.close()
		if t.Failed() {
			t.Logf("API log:\n%s", live.logs)
		}
	})
	// Ready means the production model is loaded.
	for {
		resp, err := http.Get(live.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-t.Context().Done():
			t.Fatal("the API never became ready")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return live
}

// call sends a request as the development admin and decodes the answer.
func (l *liveAPI) call(t *testing.T, method, path, body string, v any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, l.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", "admin")
	if method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %d: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// Feeds come from the real registry: a published feed is listed and shown,
// and a training on a feed that was never published, or whose objects are
// not in the bucket, is refused up front.
func TestLiveFeeds(t *testing.T) {
	live := startLive(t)
	feed := servingtest.RandomName("feed-")
	src := fmt.Sprintf(`{"x_key":"raw/%s.csv","y_key":"raw/%s.csv"}`, strings.Repeat("a", 64), strings.Repeat("b", 64))
	if _, _, err := live.reg.PublishFeed(t.Context(), feed, json.RawMessage(src), "test", "first"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name     string                 `json:"name"`
		Versions []registry.FeedVersion `json:"versions"`
	}
	if code := live.call(t, "GET", "/v1/feeds/"+feed, "", &got); code != http.StatusOK || len(got.Versions) != 1 || got.Versions[0].Note != "first" {
		t.Fatalf("GET /v1/feeds/%s: %d %+v", feed, code, got)
	}
	var list struct {
		Feeds []registry.FeedVersion `json:"feeds"`
	}
	if code := live.call(t, "GET", "/v1/feeds", "", &list); code != http.StatusOK || len(list.Feeds) != 1 || list.Feeds[0].Feed != feed {
		t.Fatalf("GET /v1/feeds: %d %+v", code, list)
	}
	var e errorBody
	if code := live.call(t, "POST", "/v1/trainings", `{"source": {"feed": "`+feed+`-none"}}`, &e); code != http.StatusBadRequest || !strings.Contains(e.Error.Message, "never published") {
		t.Fatalf("training on an unpublished feed: %d %+v", code, e)
	}
	// Its latest version names objects that are not in the bucket (removed
	// since, say): every run on it would fail.
	if code := live.call(t, "POST", "/v1/trainings", `{"source": {"feed": "`+feed+`"}}`, &e); code != http.StatusBadRequest ||
		!strings.Contains(e.Error.Message, `source.feed "`+feed+`" version 1 (publish a new version): source.x_key "raw/`) ||
		!strings.Contains(e.Error.Message, "is not in the bucket") {
		t.Fatalf("training on a feed whose objects are gone: %d %+v", code, e)
	}
	if code := live.call(t, "GET", "/v1/feeds/"+feed+"-none", "", &e); code != http.StatusNotFound {
		t.Fatalf("GET an unknown feed: %d %+v", code, e)
	}
	// Names PostgreSQL cannot even compare are the caller's mistake, not
	// an outage.
	for _, path := range []string{"/v1/feeds/%00", "/v1/feeds/%FF", "/v1/models/%FF", "/v1/models/a%00b", "/v1/models/%FF/versions/1"} {
		if code := live.call(t, "GET", path, "", &e); code != http.StatusBadRequest || e.Error.Code != codeBadRequest {
			t.Errorf("GET %s: %d %+v, want 400", path, code, e)
		}
	}
	if code := live.call(t, "POST", "/v1/trainings", `{"source": {"feed": "\u0000"}}`, &e); code != http.StatusBadRequest {
		t.Errorf("training on a feed named NUL: %d %+v, want 400", code, e)
	}
}

// A data job with API credentials alone uploads a file to the real bucket
// and publishes it as a feed's next version in the real registry.
func TestLiveUploadAndPublish(t *testing.T) {
	live := startLive(t)
	feed := servingtest.RandomName("feed-")
	csv := "title,category\nred cotton shirt " + feed + ",top\nblue denim jeans,bottom\n"
	req, err := http.NewRequestWithContext(t.Context(), "POST", live.url+"/v1/uploads", strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", "admin")
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ref artifact.Ref
	err = json.NewDecoder(resp.Body).Decode(&ref)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %+v %v", resp.StatusCode, ref, err)
	}
	if got, err := live.store.Get(t.Context(), ref.Key); err != nil || string(got) != csv {
		t.Fatalf("the bucket has %q, %v", got, err)
	}
	body := `{"source": {"csv_key": "` + ref.Key + `", "text_cols": ["title"], "label_col": "category"}, "note": "from the API"}`
	var pub struct {
		registry.FeedVersion
		Added bool `json:"added"`
	}
	if code := live.call(t, "POST", "/v1/feeds/"+feed, body, &pub); code != http.StatusCreated || !pub.Added || pub.Version != 1 || pub.Actor != "admin" {
		t.Fatalf("publish: %d %+v", code, pub)
	}
	if code := live.call(t, "POST", "/v1/feeds/"+feed, body, &pub); code != http.StatusOK || pub.Added || pub.Version != 1 {
		t.Fatalf("publishing again: %d %+v, want version 1 unchanged", code, pub)
	}
	v, err := live.reg.Feed(t.Context(), feed)
	if err != nil || v.Version != 1 || v.Note != "from the API" {
		t.Fatalf("the registry has %+v, %v", v, err)
	}
}

// A training ID is Temporal's for good: starting it again is a conflict
// that names the run it is, for a client retrying a start.
func TestLiveTrainingIDInUse(t *testing.T) {
	live := startLive(t)
	c, _ := testenv.Temporal(t)
	ref, err := live.store.Put(t.Context(), artifact.Raw, []byte("title,category\nred cotton shirt,top\nblue denim jeans,bottom\n"), ".csv", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	id := servingtest.RandomName("dup-")
	body := `{"id": "` + id + `", "source": {"csv_key": "` + ref.Key + `", "text_cols": ["title"], "label_col": "category"}}`
	var started struct {
		RunID string `json:"run_id"`
	}
	if code := live.call(t, "POST", "/v1/trainings", body, &started); code != http.StatusAccepted || started.RunID == "" {
		t.Fatalf("start: %d %+v", code, started)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), id, "", "test done") })
	var e errorBody
	if code := live.call(t, "POST", "/v1/trainings", body, &e); code != http.StatusConflict || !strings.Contains(e.Error.Message, "run "+started.RunID+"; GET /v1/trainings/"+id) {
		t.Errorf("start again: %d %+v", code, e)
	}
}

// Schedules are created, shown, replaced, paused, resumed and deleted on
// the real Temporal, with their training checked against the real bucket.
func TestLiveSchedules(t *testing.T) {
	live := startLive(t)
	csv := "title,category\nred cotton shirt,top\nblue denim jeans,bottom\n"
	ref, err := live.store.Put(t.Context(), artifact.Raw, []byte(csv), ".csv", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	id := servingtest.RandomName("sched-")
	put := func(body string) (int, scheduleSaved, errorBody) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "PUT", live.url+"/v1/schedules/"+id, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", "admin")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var saved scheduleSaved
		var e errorBody
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 300 {
			err = json.Unmarshal(raw, &saved)
		} else {
			err = json.Unmarshal(raw, &e)
		}
		if err != nil {
			t.Fatalf("PUT: %d %s: %v", resp.StatusCode, raw, err)
		}
		return resp.StatusCode, saved, e
	}
	training := `"training": {"source": {"csv_key": "` + ref.Key + `", "text_cols": ["title"], "label_col": "category"}}`
	t.Cleanup(func() {
		// t.Context() is done by now; the API still serves.
		req, err := http.NewRequest("DELETE", live.url+"/v1/schedules/"+id, nil)
		if err != nil {
			return
		}
		req.SetBasicAuth("admin", "admin")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})

	// A column the file lacks is refused before anything is created.
	bad := strings.Replace(training, `"category"`, `"label"`, 1)
	if code, _, e := put(`{"every": "24h", "paused": true, ` + bad + `}`); code != http.StatusBadRequest || !strings.Contains(e.Error.Message, "training: ") {
		t.Fatalf("PUT with a missing column: %d %+v", code, e)
	}
	var e errorBody
	if code := live.call(t, "GET", "/v1/schedules/"+id, "", &e); code != http.StatusNotFound {
		t.Fatalf("GET after a refused PUT: %d %+v", code, e)
	}

	if code, saved, e := put(`{"every": "24h", "paused": true, ` + training + `}`); code != http.StatusCreated || !saved.Created {
		t.Fatalf("create: %d %+v %+v", code, saved, e)
	}
	getInto := func(v any) {
		t.Helper()
		// Temporal answers a schedule's description from the schedule's
		// own workflow, which may still be taking the update in: on a
		// loaded machine that outlasts the API's deadline (503), once.
		for range 3 {
			switch code := live.call(t, "GET", "/v1/schedules/"+id, "", v); code {
			case http.StatusOK:
				return
			case http.StatusServiceUnavailable:
				continue
			default:
				t.Fatalf("GET: %d", code)
			}
		}
		t.Fatal("GET: 503 three times")
	}
	get := func() schedule.Summary {
		t.Helper()
		var s schedule.Summary
		getInto(&s)
		return s
	}
	s := get()
	if !s.Paused || s.Note != "paused by admin through the API" || s.Spec != "every 24h" || s.Training == nil ||
		s.Training.ModelName != live.cfg.ModelName || s.Training.Source.CSVKey != ref.Key {
		t.Fatalf("created schedule %+v", s)
	}
	// Replacing the spec without paused keeps the pause and its note.
	if code, saved, e := put(`{"cron": "0 3 * * 1", "overlap": "buffer_one", ` + training + `}`); code != http.StatusOK || saved.Created {
		t.Fatalf("replace: %d %+v %+v", code, saved, e)
	}
	if s = get(); !s.Paused || s.Note != "paused by admin through the API" || s.Spec != "cron 0 3 * * 1" {
		t.Fatalf("replaced schedule %+v", s)
	}
	// What GET shows is a body PUT takes, and putting it changes nothing.
	var view struct {
		Cron           string       `json:"cron"`
		Every          string       `json:"every"`
		Jitter         string       `json:"jitter"`
		Overlap        string       `json:"overlap"`
		PauseOnFailure *bool        `json:"pause_on_failure"`
		Training       trainingSpec `json:"training"`
	}
	if getInto(&view); view.Cron != "0 3 * * 1" || view.Overlap != "buffer_one" || view.PauseOnFailure == nil {
		t.Fatalf("GET: %+v", view)
	}
	body, err := json.Marshal(view)
	if err != nil {
		t.Fatal(err)
	}
	if code, saved, e := put(string(body)); code != http.StatusOK || saved.Created {
		t.Fatalf("PUT of what GET shows: %d %+v %+v", code, saved, e)
	}
	if s2 := get(); s2.Spec != s.Spec || !s2.Paused || !reflect.DeepEqual(s2.Training, s.Training) {
		t.Fatalf("after PUT of what GET shows: %+v, was %+v", s2, s)
	}
	if code, _, e := put(`{"cron": "0 3 * * 1", "paused": false, ` + training + `}`); code != http.StatusOK {
		t.Fatalf("resume: %d %+v", code, e)
	}
	if s = get(); s.Paused || len(s.NextRuns) == 0 {
		t.Fatalf("resumed schedule %+v", s)
	}
	// A cron Temporal cannot parse is the caller's mistake.
	if code, _, e := put(`{"cron": "0 3 * * funday", ` + training + `}`); code != http.StatusBadRequest {
		t.Errorf("bad cron: %d %+v", code, e)
	}

	var a struct {
		ID     string `json:"id"`
		Action string `json:"action"`
	}
	if code := live.call(t, "DELETE", "/v1/schedules/"+id, "", &a); code != http.StatusOK || a.Action != "deleted" {
		t.Fatalf("DELETE: %d %+v", code, a)
	}
	if code := live.call(t, "DELETE", "/v1/schedules/"+id, "", &e); code != http.StatusNotFound {
		t.Errorf("DELETE again: %d %+v", code, e)
	}
}
