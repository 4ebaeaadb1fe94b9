package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prodcat/prodcat/internal/registry"
)

// The load test's wrk run, and when in it production moves: first to the
// challenger, which the API has loaded ahead, then to a version it has to
// fetch and verify under load.
const (
	loadDuration    = 10 * time.Second
	warmPromotion   = 3500 * time.Millisecond
	coldPromotion   = 7 * time.Second
	loadBody        = `{"designation": "Grand Stylet Ergonomique Bleu Gamepad Nintendo Wii U - Speedlink Pilot Style", "description": "PILOT STYLE Touch Pen de marque Speedlink est 1 stylet ergonomique pour GamePad Nintendo Wii U."}`
	loadConnections = "32"
)

// observation is one answer of the version poller.
type observation struct {
	at      time.Time
	status  int
	version int
}

// TestLoadWithPromotion runs wrk -t2 -c32 against the live API and
// promotes other versions in the middle of the run: the challenger, then a
// version without alias. Every answer must be a 2xx, and the served
// version must follow; how long after each promotion it changed is
// measured from a poller's answers and reported.
func TestLoadWithPromotion(t *testing.T) {
	live := startLive(t)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk): skipping the load test")
	}
	// The challenger is loaded ahead once production is served.
	for !strings.Contains(live.logs.String(), "standby version loaded") {
		select {
		case <-t.Context().Done():
			t.Fatalf("the challenger was never loaded ahead; API log:\n%s", live.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	script := filepath.Join(t.TempDir(), "predict.lua")
	auth := base64.StdEncoding.EncodeToString([]byte("predict:predict"))
	lua := "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n" +
		"wrk.headers[\"Authorization\"] = \"Basic " + auth + "\"\nwrk.body = '" + loadBody + "'\n"
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		t.Fatal(err)
	}

	// The poller asks for a prediction every millisecond, on its own
	// connection, and records which version answered.
	var (
		mu  sync.Mutex
		obs []observation
	)
	pollCtx, stopPolling := context.WithCancel(t.Context())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		client := &http.Client{}
		for pollCtx.Err() == nil {
			req, _ := http.NewRequestWithContext(pollCtx, "POST", live.url+"/v1/predict", strings.NewReader(loadBody))
			req.SetBasicAuth("predict", "predict")
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				continue // cancelled at the end
			}
			var p predictionJSON
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = json.Unmarshal(body, &p)
			mu.Lock()
			obs = append(obs, observation{at: time.Now(), status: resp.StatusCode, version: p.Model.Version})
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()

	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), wrk, "-t2", "-c"+loadConnections, "-d"+loadDuration.String(), "--latency", "-s", script, live.url+"/v1/predict")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	promote := func(at time.Duration, v registry.Version, reason string) time.Time {
		time.Sleep(time.Until(started.Add(at))) // schedules the promotion inside the run; not a bound
		mv, err := live.reg.SetAlias(t.Context(), live.cfg.ModelName, registry.AliasProduction, v.Version, reason, "apitest")
		if err != nil || !mv.Moved {
			t.Fatalf("promote v%d: %+v %v", v.Version, mv, err)
		}
		return time.Now()
	}
	warmAt := promote(warmPromotion, live.v2, "load test: promote the challenger")
	coldAt := promote(coldPromotion, live.v3, "load test: promote a version not loaded ahead")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, out.String())
	}
	stopPolling()
	<-polled
	report := out.String()
	t.Logf("wrk -t2 -c%s -d%s:\n%s", loadConnections, loadDuration, report)

	// Zero non-2xx answers and no socket errors in wrk's run.
	if strings.Contains(report, "Non-2xx") || strings.Contains(report, "Socket errors") {
		t.Errorf("wrk saw errors:\n%s", report)
	}
	if m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(report); m == nil || m[1] == "0" {
		t.Fatalf("wrk made no requests:\n%s", report)
	}

	// The poller: only 200s, and versions 1, 2, 3 in that order.
	mu.Lock()
	defer mu.Unlock()
	first := map[int]time.Time{}
	last := 0
	for _, o := range obs {
		if o.status != http.StatusOK {
			t.Errorf("poller got %d at %s", o.status, o.at.Format(time.StampMicro))
			continue
		}
		if o.version < last {
			t.Errorf("v%d answered at %s after v%d did", o.version, o.at.Format(time.StampMicro), last)
		}
		last = max(last, o.version)
		if _, ok := first[o.version]; !ok {
			first[o.version] = o.at
		}
	}
	for _, p := range []struct {
		kind string
		v    registry.Version
		at   time.Time
	}{{"challenger, loaded ahead", live.v2, warmAt}, {"fetched and verified under load", live.v3, coldAt}} {
		seen, ok := first[p.v.Version]
		if !ok {
			t.Errorf("the served version never became v%d after its promotion (%d polls)", p.v.Version, len(obs))
			continue
		}
		t.Logf("v%d (%s): swapped in %v after its promotion; first seen by the poller after %v",
			p.v.Version, p.kind, swappedAt(t, live.logs.String(), p.v.Version).Sub(p.at).Round(time.Microsecond),
			seen.Sub(p.at).Round(time.Microsecond))
	}
	t.Logf("%d polls, all checked", len(obs))

	for _, line := range strings.Split(live.logs.String(), "\n") {
		if strings.Contains(line, "swapped in") || strings.Contains(line, "standby version loaded") {
			t.Logf("API log: %s", line)
		}
	}

	var metricsText strings.Builder
	resp, err := http.Get(live.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&metricsText, resp.Body)
	resp.Body.Close()
	if !strings.Contains(metricsText.String(), `prodcat_model_reloads_total{result="success"} 3`) {
		t.Error("metrics do not count three models served")
	}
	for _, line := range strings.Split(metricsText.String(), "\n") {
		if strings.HasPrefix(line, "prodcat_http_requests_total") && strings.Contains(line, "predict") {
			t.Logf("metrics: %s", line)
		}
	}
}

// swappedAt returns when the API logged that it swapped in version v.
func swappedAt(t *testing.T, logs string, v int) time.Time {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var e struct {
			Msg     string    `json:"msg"`
			Version int       `json:"version"`
			Time    time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Version == v &&
			(e.Msg == "serving: model loaded and swapped in" || e.Msg == "serving: model swapped in from memory") {
			return e.Time
		}
	}
	t.Errorf("no log line says v%d was swapped in", v)
	return time.Time{}
}
