package gateway

import (
	"context"
	"sync"
)

// Reload re-reads the config file. A valid config swaps routes, pools,
// identity headers and trusted proxies atomically: requests already in
// flight finish on the old routing, new ones take the new. An invalid config
// is reported and changes nothing.
func (s *Server) Reload(bg context.Context, wg *sync.WaitGroup) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := Load(s.configPath)
	if err != nil {
		return err
	}
	for _, key := range restartOnlyChanges(s.cfg, cfg) {
		s.logger.Warn("config change needs a restart to take effect; keeping the running value", "key", key)
	}
	rt, err := s.newRouting(cfg)
	if err != nil {
		return cfg.located(err)
	}
	rt.start(bg, wg)
	old := s.routing.Swap(rt)
	old.stop()
	s.logger.Info("configuration reloaded", "routes", len(cfg.Routes))
	logWarnings(s.logger, cfg)
	return nil
}
