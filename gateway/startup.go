package gateway

import (
	"context"
	"time"
)

// What happens between building a Server and serving: waiting for the
// instance to become ready, and telling the operator what it is about to
// serve.

// startupGrace bounds how long the public listeners wait at start for the
// instance to become ready.
const startupGrace = 10 * time.Second

// awaitReady returns once every readiness check passes — above all, once
// the denylist mirror has loaded — or after startupGrace, or when ctx
// ends. Until then the public listeners are bound but not serving, so
// connections wait in the backlog rather than meet a gateway that, failing
// closed, answers 503 to every protected request while its mirror loads.
// A dependency still down after the grace is the ordinary fail-closed
// case, and /readyz, served meanwhile, says which.
func (s *Server) awaitReady(ctx context.Context) {
	grace := time.NewTimer(startupGrace)
	defer grace.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		failing := s.failingChecks(ctx)
		if len(failing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-grace.C:
			s.logger.Warn("not ready after "+startupGrace.String()+"; serving anyway, protected routes fail closed until ready",
				"failing", failing)
			return
		case <-tick.C:
		}
	}
}

// failingChecks runs the readiness checks and names those that fail.
func (s *Server) failingChecks(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var failing []string
	for _, c := range s.readiness {
		if err := c.check(ctx); err != nil {
			failing = append(failing, c.name+": "+err.Error())
		}
	}
	return failing
}
