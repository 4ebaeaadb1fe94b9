package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
)

// Activity attempts are counted by outcome and error type through the
// worker's interceptor.
func TestMetricsCountActivities(t *testing.T) {
	m := newMetrics()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{m}})
	env.RegisterActivityWithOptions(func(ctx context.Context, what string) error {
		switch what {
		case "bad":
			return temporal.NewNonRetryableApplicationError("no rows", activities.ErrBadData, nil)
		case "down":
			return errors.New("registry: cannot reach PostgreSQL")
		}
		return nil
	}, activity.RegisterOptions{Name: "Ingest"})
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 2, InitialInterval: time.Millisecond}})
		for _, what := range []string{"ok", "ok", "bad", "down"} {
			_ = workflow.ExecuteActivity(ctx, "Ingest", what).Get(ctx, nil)
		}
		return nil
	}, workflow.RegisterOptions{Name: "W"})
	env.ExecuteWorkflow("W")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		outcome, errType string
		want             float64
	}{{"succeeded", "", 2}, {"failed", activities.ErrBadData, 1}, {"failed", "retryable", 2}} {
		if got := testutil.ToFloat64(m.finished.WithLabelValues("Ingest", tc.outcome, tc.errType)); got != tc.want {
			t.Errorf("%s %s: %v attempts, want %v", tc.outcome, tc.errType, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.running.WithLabelValues("Ingest")); got != 0 {
		t.Errorf("%v running after the workflow ended", got)
	}
	if got := testutil.CollectAndCount(m.seconds); got != 2 {
		t.Errorf("%d duration series, want succeeded and failed", got)
	}
	if o, _ := outcomeOf(context.Canceled); o != "canceled" {
		t.Errorf("a canceled attempt is %s", o)
	}
}

// /metrics wants the token when one is set; /livez answers while the
// process runs, /healthz only while the worker polls.
func TestServeMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var state atomic.Int32
	addr := closedAddress(t)
	errc, err := serveMetrics(ctx, addr, "s3cret", newMetrics(), &state)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	if code, body := get("/metrics", "s3cret"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d %.200s", code, body)
	}
	for _, tc := range []struct {
		state       int32
		name        string
		live, ready int
	}{
		{starting, "starting", http.StatusOK, http.StatusServiceUnavailable},
		{polling, "ok", http.StatusOK, http.StatusOK},
		{stopping, "stopping", http.StatusOK, http.StatusServiceUnavailable},
	} {
		state.Store(tc.state)
		if code, body := get("/livez", ""); code != tc.live || !strings.Contains(body, `"`+tc.name+`"`) {
			t.Errorf("/livez while %s: %d %s", tc.name, code, body)
		}
		if code, body := get("/healthz", ""); code != tc.ready || !strings.Contains(body, `"`+tc.name+`"`) {
			t.Errorf("/healthz while %s: %d %s", tc.name, code, body)
		}
	}
	if _, err := serveMetrics(ctx, addr, "", newMetrics(), &state); err == nil {
		t.Error("a second server listened on the same address")
	}
	cancel()
	if err, open := <-errc; open {
		t.Errorf("serving ended with %v", err)
	}
}

// The SDK's series reach /metrics by name and tags, timers as histograms
// in seconds, with one set of labels per name.
func TestSDKMetrics(t *testing.T) {
	m := newMetrics()
	h := m.sdk.handler().WithTags(map[string]string{"namespace": "default"})
	h.WithTags(map[string]string{"task_queue": "prodcat"}).Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"task_queue": "prodcat"}).Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"operation": "Poll"}).Counter("temporal_request").Inc(5)
	h.Gauge("temporal_worker_task_slots_available").Update(4)
	h.Timer("temporal_activity_schedule_to_start_latency").Record(1500 * time.Millisecond)
	h.Timer("temporal_activity_schedule_to_start_latency").Record(2 * time.Hour)
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]string{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "temporal_") {
			continue
		}
		for _, mt := range f.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case mt.GetCounter() != nil:
				got[key] = fmt.Sprint(mt.GetCounter().GetValue())
			case mt.GetGauge() != nil:
				got[key] = fmt.Sprint(mt.GetGauge().GetValue())
			case mt.GetHistogram() != nil:
				got[key] = fmt.Sprintf("%d %.1f", mt.GetHistogram().GetSampleCount(), mt.GetHistogram().GetSampleSum())
			}
		}
	}
	want := map[string]string{
		"temporal_request{namespace=default,operation=,task_queue=prodcat}":      "3",
		"temporal_request{namespace=default,operation=Poll,task_queue=}":         "5",
		"temporal_worker_task_slots_available{namespace=default}":                "4",
		"temporal_activity_schedule_to_start_latency_seconds{namespace=default}": "2 7201.5",
	}
	if !maps.Equal(got, want) {
		t.Errorf("SDK series %v, want %v", got, want)
	}
}
