package main

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkBuckets are the bounds, in seconds, of the SDK's timers: its
// latencies run from a millisecond (a poll answered at once) to an hour
// (a task waiting for a worker).
var sdkBuckets = prometheus.ExponentialBuckets(0.001, 4, 12)

// sdkMetrics collects the series the Temporal SDK reports (pollers, task
// latencies, requests, workers' slots…) for a worker's /metrics, by name
// and tags, as the SDK names them; timers get the suffix _seconds. It is a
// prometheus.Collector; handler gives the SDK its side.
type sdkMetrics struct {
	mu     sync.Mutex
	series map[string]*sdkSeries // by seriesKey
}

type sdkSeries struct {
	name    string
	kind    prometheus.ValueType // counter or gauge; untyped for a timer
	tags    map[string]string
	value   float64
	count   uint64   // a timer's observations
	buckets []uint64 // a timer's counts per sdkBuckets bound
	sum     float64  // a timer's total, in seconds
}

func newSDKMetrics() *sdkMetrics { return &sdkMetrics{series: make(map[string]*sdkSeries)} }

// handler returns the SDK's view of s, with no tags.
func (s *sdkMetrics) handler() client.MetricsHandler { return sdkHandler{s: s} }

// get returns the series of name and tags, made of kind when new.
func (s *sdkMetrics) get(name string, kind prometheus.ValueType, tags map[string]string) *sdkSeries {
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	b.WriteString(name)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + tags[k])
	}
	key := b.String()
	if se, ok := s.series[key]; ok {
		return se
	}
	se := &sdkSeries{name: name, kind: kind, tags: tags}
	if kind == prometheus.UntypedValue {
		se.buckets = make([]uint64, len(sdkBuckets))
	}
	s.series[key] = se
	return se
}

// Describe implements prometheus.Collector; the SDK's series are not known
// ahead, so the collector is unchecked.
func (s *sdkMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector. Series of one name are given
// the union of their tags, empty where a series lacks one, as Prometheus
// wants one set of labels per name.
func (s *sdkMetrics) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	labels := make(map[string][]string)
	for _, se := range s.series {
		for k := range se.tags {
			if l := labels[se.name]; !slices.Contains(l, k) {
				labels[se.name] = append(l, k)
			}
		}
	}
	for _, l := range labels {
		slices.Sort(l)
	}
	for _, se := range s.series {
		names := labels[se.name]
		values := make([]string, len(names))
		for i, k := range names {
			values[i] = se.tags[k]
		}
		promNames := make([]string, len(names))
		for i, k := range names {
			promNames[i] = promName(k)
		}
		if se.kind == prometheus.UntypedValue {
			desc := prometheus.NewDesc(promName(se.name)+"_seconds", "Temporal SDK timer "+se.name+".", promNames, nil)
			cum := make(map[float64]uint64, len(sdkBuckets))
			var n uint64
			for i, bound := range sdkBuckets {
				n += se.buckets[i]
				cum[bound] = n
			}
			ch <- prometheus.MustNewConstHistogram(desc, se.count, se.sum, cum, values...)
			continue
		}
		desc := prometheus.NewDesc(promName(se.name), "Temporal SDK metric "+se.name+".", promNames, nil)
		ch <- prometheus.MustNewConstMetric(desc, se.kind, se.value, values...)
	}
}

// promName makes name a valid Prometheus metric or label name.
func promName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

// sdkHandler is client.MetricsHandler over an sdkMetrics, with tags.
type sdkHandler struct {
	s    *sdkMetrics
	tags map[string]string
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = make(map[string]string, len(tags))
	}
	maps.Copy(merged, tags)
	return sdkHandler{s: h.s, tags: merged}
}

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		h.s.get(name, prometheus.CounterValue, h.tags).value += float64(d)
	})
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		h.s.get(name, prometheus.GaugeValue, h.tags).value = v
	})
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	return timerFunc(func(d time.Duration) {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		se := h.s.get(name, prometheus.UntypedValue, h.tags)
		secs := d.Seconds()
		se.count++
		se.sum += secs
		// Counted in its own bucket; Collect makes them cumulative.
		if i, _ := slices.BinarySearch(sdkBuckets, secs); i < len(sdkBuckets) {
			se.buckets[i]++
		}
	})
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }
