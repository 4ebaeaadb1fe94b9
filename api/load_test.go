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

// The load test's wrk run, and when in it production moves.
const (
	loadDuration    = 10 * time.Second
	promotionAfter  = 4 * time.Second
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
// promotes another version in the middle of the run. Every answer must be
// a 2xx, and the served version must change; how long after the promotion
// it changed is measured from a poller's answers and reported.
func TestLoadWithPromotion(t *testing.T) {
	live := startLive(t)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk): skipping the load test")
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
	time.Sleep(promotionAfter) // schedules the promotion inside the run; not a bound
	mv, err := live.reg.SetAlias(t.Context(), live.cfg.ModelName, registry.AliasProduction, live.v2.Version, "load test promotion", "apitest")
	promotedAt := time.Now()
	if err != nil || !mv.Moved {
		t.Fatalf("promote v%d: %+v %v", live.v2.Version, mv, err)
	}
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

	// The poller: only 200s; v1 then v2, never back.
	mu.Lock()
	defer mu.Unlock()
	var firstV2 time.Time
	lastV1 := time.Time{}
	for _, o := range obs {
		if o.status != http.StatusOK {
			t.Errorf("poller got %d at %s", o.status, o.at.Format(time.StampMicro))
		}
		switch o.version {
		case live.v1.Version:
			if !firstV2.IsZero() {
				t.Errorf("v%d answered at %s after v%d did", live.v1.Version, o.at.Format(time.StampMicro), live.v2.Version)
			}
			lastV1 = o.at
		case live.v2.Version:
			if firstV2.IsZero() {
				firstV2 = o.at
			}
		default:
			t.Errorf("unexpected version %d", o.version)
		}
	}
	if firstV2.IsZero() {
		t.Fatalf("the served version never changed after promoting v%d (%d polls)", live.v2.Version, len(obs))
	}
	t.Logf("served version changed %v after the promotion (last v%d answer %v after it; %d polls, all 200)",
		firstV2.Sub(promotedAt), live.v1.Version, lastV1.Sub(promotedAt), len(obs))

	for _, line := range strings.Split(live.logs.String(), "\n") {
		if strings.Contains(line, "swapped in") {
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
	if !strings.Contains(metricsText.String(), `prodcat_model_reloads_total{result="success"} 2`) {
		t.Error("metrics do not count two successful loads")
	}
	for _, line := range strings.Split(metricsText.String(), "\n") {
		if strings.HasPrefix(line, "prodcat_http_requests_total") && strings.Contains(line, "predict") {
			t.Logf("metrics: %s", line)
		}
	}
}
