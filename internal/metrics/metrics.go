// Package metrics wraps a private Prometheus registry. One Metrics value is
// built in main and injected; nothing here is global.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Metrics holds every collector of the relay.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	retries        prometheus.Counter
	ttft           *prometheus.HistogramVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	streamEnds     *prometheus.CounterVec
	modelsRefresh  *prometheus.CounterVec
	accounts       *prometheus.GaugeVec
	stateChanges   *prometheus.CounterVec
	keyLimits      *prometheus.CounterVec
}

// New registers all collectors on a fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qwenrelay_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "status"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qwenrelay_upstream_errors_total", Help: "Failed upstream attempts by error kind.",
		}, []string{"kind"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qwenrelay_upstream_retries_total", Help: "Upstream attempts after the first one.",
		}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "qwenrelay_time_to_first_token_seconds", Help: "Time from request to the first content or reasoning token.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60},
		}, []string{"stream"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "qwenrelay_request_duration_seconds", Help: "Request duration by route.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "qwenrelay_requests_in_flight", Help: "Requests being served.",
		}),
		streamEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qwenrelay_stream_ends_total", Help: "Why answers ended: done, client_gone, upstream_error, content_filter.",
		}, []string{"reason"}),
		modelsRefresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qwenrelay_models_refresh_total", Help: "Model list refreshes by result.",
		}, []string{"result"}),
	}
	m.accounts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "qwenrelay_accounts", Help: "Qwen accounts by state.",
	}, []string{"state"})
	m.stateChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "qwenrelay_account_state_changes_total", Help: "Account state transitions.",
	}, []string{"from", "to"})
	m.keyLimits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "qwenrelay_key_limit_rejections_total", Help: "Requests refused by a client key's limit.",
	}, []string{"limit"})
	reg.MustRegister(m.accounts, m.stateChanges, m.keyLimits)
	reg.MustRegister(m.requests, m.upstreamErrors, m.retries, m.ttft, m.duration, m.inFlight, m.streamEnds, m.modelsRefresh,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, k := range upstream.Kinds() {
		m.upstreamErrors.WithLabelValues(k.String())
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request records one finished HTTP request.
func (m *Metrics) Request(route string, status int, seconds float64) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(seconds)
}

// TTFT records the time to the first token.
func (m *Metrics) TTFT(stream bool, seconds float64) {
	m.ttft.WithLabelValues(strconv.FormatBool(stream)).Observe(seconds)
}

// InFlight moves the in-flight gauge by delta.
func (m *Metrics) InFlight(delta float64) { m.inFlight.Add(delta) }

// StreamEnd counts why an answer ended.
func (m *Metrics) StreamEnd(reason string) { m.streamEnds.WithLabelValues(reason).Inc() }

// ModelsRefresh counts model list refreshes ("ok" or "error").
func (m *Metrics) ModelsRefresh(result string) { m.modelsRefresh.WithLabelValues(result).Inc() }

// UpstreamError implements relay.Observer.
func (m *Metrics) UpstreamError(kind upstream.Kind) {
	m.upstreamErrors.WithLabelValues(kind.String()).Inc()
}

// Retry implements relay.Observer.
func (m *Metrics) Retry() { m.retries.Inc() }

// StateChange implements pool.Observer: "" as from or to means the account
// appeared or was deleted.
func (m *Metrics) StateChange(from, to store.AccountState) {
	if from != "" {
		m.accounts.WithLabelValues(string(from)).Dec()
	}
	if to != "" {
		m.accounts.WithLabelValues(string(to)).Inc()
	}
	if from != "" && to != "" {
		m.stateChanges.WithLabelValues(string(from), string(to)).Inc()
	}
}

// KeyLimit counts a request refused by a client key's limit.
func (m *Metrics) KeyLimit(limit string) { m.keyLimits.WithLabelValues(limit).Inc() }
