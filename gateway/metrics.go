package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's own Prometheus series. They live in a registry
// owned by the Server (no global default registry), served on the ops
// listener only.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec   // route, code
	duration *prometheus.HistogramVec // route
	// codes caches the label value for each status code so the request
	// path does not format integers.
	codes [600]string
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_requests_total",
			Help: "Requests answered by the public listeners, by route and status code. Route is \"auth_api\" for /auth, \"\" when no route matched.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authgate_request_duration_seconds",
			Help:    "Time from request to the end of the response, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	for i := range m.codes {
		m.codes[i] = strconv.Itoa(i)
	}
	m.registry.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) code(status int) string {
	if status >= 0 && status < len(m.codes) {
		return m.codes[status]
	}
	return strconv.Itoa(status)
}
