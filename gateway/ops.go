package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readinessCheck is one dependency /readyz reports on.
type readinessCheck struct {
	name  string
	check func(context.Context) error
}

// opsHandler serves /healthz, /readyz and /metrics. It is mounted only on the
// ops listener (default 127.0.0.1:9090), never on the public ones: metrics
// and dependency state are not for the internet.
func (s *Server) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Liveness: the process serves HTTP. Dependencies are /readyz's
		// business; restarting a gateway because Redis is down helps nobody.
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

// serveReady answers 200 when every dependency a protected request needs is
// usable and 503 otherwise, with the state of each, so a load balancer
// takes an instance out while it would fail closed.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := http.StatusOK
	checks := map[string]string{}
	if s.draining.Load() {
		status = http.StatusServiceUnavailable
		checks["shutdown"] = "draining"
	}
	for _, c := range s.readiness {
		if err := c.check(ctx); err != nil {
			status = http.StatusServiceUnavailable
			checks[c.name] = err.Error()
			continue
		}
		checks[c.name] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": checks})
}
