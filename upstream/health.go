package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// watch runs the active health check of t every interval until ctx ends.
func (p *pool) watch(ctx context.Context, t *Target) {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		p.probe(ctx, t)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe checks t once and records the verdict.
func (p *pool) probe(ctx context.Context, t *Target) {
	epoch := t.epoch.Load()
	err := p.check(ctx, t)
	if ctx.Err() != nil {
		return // shutting down: the verdict means nothing
	}
	if err == nil && t.epoch.Load() != epoch {
		// A connection failed while this check was under way; its
		// "healthy" predates that and must not bring the target back.
		return
	}
	wasDown := t.down.Swap(err != nil)
	switch {
	case err != nil && !wasDown:
		p.log.Warn("upstream target failed its health check; taking it out of rotation", "target", t.name, "error", err)
	case err == nil && wasDown:
		p.log.Info("upstream target passed its health check; back in rotation", "target", t.name)
	}
}

// check sends one GET to t's health URL. Healthy is a 2xx or 3xx answer
// (redirects are not followed) within the check's timeout.
func (p *pool) check(ctx context.Context, t *Target) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.healthURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "authgate-health-check")
	res, err := p.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	// Drain a little so a short answer leaves the connection reusable.
	io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 399 {
		return fmt.Errorf("health check answered %d", res.StatusCode)
	}
	return nil
}

// eject takes t out of rotation after a failed connection: for the
// cool-down and, when active checks run, until one passes again.
func (p *pool) eject(t *Target, cause error) {
	now := p.now()
	t.epoch.Add(1)
	if p.checkPath != "" {
		t.down.Store(true)
	}
	prev := t.ejectedUntil.Swap(now.Add(p.cooldown).UnixNano())
	if prev != 0 && now.UnixNano() < prev {
		return // already out; this is a request that was under way
	}
	if t.ejections != nil {
		t.ejections.Inc()
	}
	p.log.Warn("upstream target ejected after a connection failure", "target", t.name, "cooldown", p.cooldown, "error", cause)
}
