package main

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/serving"
)

// metrics are the API's Prometheus collectors, on a registry of their own
// rather than the global default one.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	predicted *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	http      http.Handler
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prodcat_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "prodcat_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by route and status code.",
			// Predictions take tens of microseconds; trainings and registry
			// reads up to seconds.
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		predicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prodcat_predictions_total",
			Help: "Products classified, by predicted class (prdtypecode); past the model's first 100 classes, class=\"_other\".",
		}, []string{"class"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prodcat_model_reloads_total",
			Help: "Attempts to load a new model version (or to check for one), by result.",
		}, []string{"result"}),
	}
	for _, r := range []serving.Result{serving.Loaded, serving.Failed} {
		m.reloads.WithLabelValues(string(r)) // show zeros from the start
	}
	m.reg.MustRegister(m.requests, m.durations, m.predicted, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.http = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// serve answers a scrape, which needs token as its bearer token when one
// is set: Prometheus sends a bearer token, not the API users' Basic
// credentials.
func (m *metrics) serve(w http.ResponseWriter, r *http.Request, token string) {
	if token != "" && !auth.HasBearer(r.Header.Get("Authorization"), token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="prodcat metrics"`)
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "/metrics needs the bearer token set in PRODCAT_METRICS_TOKEN")
		return
	}
	m.http.ServeHTTP(w, r)
}

// watchModel exports the version of the model being served, and the one
// production points at when it could not be served, read at each scrape.
func (m *metrics) watchModel(modelName string, models modelSource) {
	labels := prometheus.Labels{"model": modelName}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "prodcat_model_version",
		Help:        "Version of the model being served; 0 before one is loaded.",
		ConstLabels: labels,
	}, func() float64 {
		if cur := models.Current(); cur != nil {
			return float64(cur.Version)
		}
		return 0
	}), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "prodcat_model_production_unserved_version",
		Help: "Version production points at while it cannot be loaded and an earlier one is served " +
			"(a replica to alert on: it answers with another model than its peers); 0 when production's is served.",
		ConstLabels: labels,
	}, func() float64 { return float64(models.Behind()) }))
}

func (m *metrics) observeReload(r serving.Result) { m.reloads.WithLabelValues(string(r)).Inc() }

// routeMetrics holds one route's request collectors by status code,
// created on first use, so that the hot path neither allocates nor hashes
// label values.
type routeMetrics struct {
	m      *metrics
	route  string
	byCode [500]atomic.Pointer[codeMetrics] // status codes 100-599
}

type codeMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) route(name string) *routeMetrics { return &routeMetrics{m: m, route: name} }

func (rm *routeMetrics) observe(code int, seconds float64) {
	if code < 100 || code > 599 {
		code = 500
	}
	slot := &rm.byCode[code-100]
	cm := slot.Load()
	if cm == nil {
		c := strconv.Itoa(code)
		cm = &codeMetrics{
			count:    rm.m.requests.WithLabelValues(rm.route, c),
			duration: rm.m.durations.WithLabelValues(rm.route, c),
		}
		slot.Store(cm) // a racing first request stores the same collectors
	}
	cm.count.Inc()
	cm.duration.Observe(seconds)
}
