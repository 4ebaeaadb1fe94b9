package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/internal/auth"
)

// metrics counts the activities a worker runs, through a worker
// interceptor, for its /metrics.
type metrics struct {
	interceptor.WorkerInterceptorBase
	reg      *prometheus.Registry
	finished *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	running  *prometheus.GaugeVec
	// sdk holds the Temporal SDK's own series.
	sdk *sdkMetrics
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prodcat_worker_activities_total",
			Help: "Activity attempts finished, by activity, outcome (succeeded, failed, canceled) and, for failures, error type (BadData, BadParams, NoModel, QualityGate…; 'retryable' for the others).",
		}, []string{"activity", "outcome", "error_type"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "prodcat_worker_activity_duration_seconds",
			Help:    "Time an activity attempt ran, by activity and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 12), // 10 ms to about 12 h: heavy stages may run 2 h
		}, []string{"activity", "outcome"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "prodcat_worker_activities_running",
			Help: "Activity attempts running now, by activity.",
		}, []string{"activity"}),
	}
	m.sdk = newSDKMetrics()
	m.reg.MustRegister(m.finished, m.seconds, m.running, m.sdk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// InterceptActivity implements interceptor.WorkerInterceptor.
func (m *metrics) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &countedActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, m: m}
}

type countedActivity struct {
	interceptor.ActivityInboundInterceptorBase
	m *metrics
}

func (c *countedActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	running := c.m.running.WithLabelValues(name)
	running.Inc()
	defer running.Dec()
	start := time.Now()
	res, err := c.Next.ExecuteActivity(ctx, in)
	outcome, errType := outcomeOf(err)
	c.m.finished.WithLabelValues(name, outcome, errType).Inc()
	c.m.seconds.WithLabelValues(name, outcome).Observe(time.Since(start).Seconds())
	return res, err
}

// outcomeOf names how an activity attempt ended, and for a failure its
// error type: prodcat's types of non-retryable failures, or retryable.
func outcomeOf(err error) (outcome, errType string) {
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return "succeeded", ""
	case temporal.IsCanceledError(err) || errors.Is(err, context.Canceled):
		return "canceled", ""
	case errors.As(err, &app) && app.NonRetryable() && app.Type() != "":
		return "failed", app.Type()
	}
	return "failed", "retryable"
}

// A worker's state, as /livez and /healthz tell it.
const (
	starting int32 = iota // waiting for its dependencies
	polling               // its pollers run
	stopping              // finishing the activities under way
)

var stateNames = [...]string{starting: "starting", polling: "ok", stopping: "stopping"}

// serveMetrics serves /metrics (behind token, when set), /livez (200
// while the process runs, whatever state says, so a liveness probe does
// not restart a worker that waits for its dependencies) and /healthz (200
// only while state is polling) on addr until ctx ends. Listening fails at
// once; serving errors later are returned on the channel.
func serveMetrics(ctx context.Context, addr, token string, m *metrics, state *atomic.Int32) (<-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	prom := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if token != "" && !auth.HasBearer(r.Header.Get("Authorization"), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="prodcat metrics"`)
			http.Error(w, "/metrics needs the bearer token set in PRODCAT_METRICS_TOKEN", http.StatusUnauthorized)
			return
		}
		prom.ServeHTTP(w, r)
	})
	status := func(w http.ResponseWriter, ready bool) {
		s := state.Load()
		code := http.StatusOK
		if ready && s != polling {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": stateNames[s]})
	}
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { status(w, false) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { status(w, true) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
		close(errc)
	}()
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return errc, nil
}
