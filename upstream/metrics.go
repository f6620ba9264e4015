package upstream

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the upstream's Prometheus collectors. Label values are
// resolved per pool and target at construction; the request path only
// observes.
type metrics struct {
	reg       prometheus.Registerer
	duration  *prometheus.HistogramVec
	ejections *prometheus.CounterVec
	gauges    []prometheus.Collector // the health gauges attach registered
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{reg: reg}
	var err error
	m.duration, err = registerOnce(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "authgate_upstream_request_duration_seconds",
		Help:    "Time from sending a request to a pool until its response headers arrived, by status class (\"error\": no response).",
		Buckets: prometheus.DefBuckets,
	}, []string{"pool", "code"}))
	if err != nil {
		return nil, err
	}
	m.ejections, err = registerOnce(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_upstream_ejections_total",
		Help: "Times a target was taken out of rotation after a connection to it failed.",
	}, []string{"pool", "target"}))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// registerOnce registers c, or returns the collector an earlier Upstreams
// (before a config reload) registered under the same name.
func registerOnce[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

func codeClass(i int) string {
	switch i {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return "error"
}

// attach resolves p's observers and counters and registers a health gauge
// per target, computed at scrape time so that the end of a cool-down shows
// without anyone touching the target.
func (m *metrics) attach(p *pool) error {
	if m == nil {
		return nil
	}
	p.metered = true
	for i := range p.obs {
		p.obs[i] = m.duration.WithLabelValues(p.name, codeClass(i))
	}
	for _, t := range p.targets {
		t.ejections = m.ejections.WithLabelValues(p.name, t.name)
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "authgate_upstream_target_healthy",
			Help:        "1 while the target takes traffic, 0 while a health check failed or it is ejected.",
			ConstLabels: prometheus.Labels{"pool": p.name, "target": t.name},
		}, func() float64 {
			if t.Healthy() {
				return 1
			}
			return 0
		})
		err := m.reg.Register(g)
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			// The same target of an earlier Upstreams: this one's state
			// is the one to report.
			m.reg.Unregister(are.ExistingCollector)
			err = m.reg.Register(g)
		}
		if err != nil {
			return err
		}
		m.gauges = append(m.gauges, g)
	}
	return nil
}

// detach unregisters the health gauges that are still this Upstreams'
// own. A newer Upstreams (a config reload) has replaced those of the
// targets it kept, and the registry identifies a gauge by name and labels
// alone, so each is first offered again: only one the registry still
// holds as this very collector is removed.
func (m *metrics) detach() {
	if m == nil {
		return
	}
	for _, g := range m.gauges {
		err := m.reg.Register(g)
		var are prometheus.AlreadyRegisteredError
		if err == nil || errors.As(err, &are) && are.ExistingCollector == g {
			m.reg.Unregister(g)
		}
	}
	m.gauges = nil
}
