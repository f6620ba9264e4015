package denylist

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// NewRedisClient parses a redis:// or rediss:// URL (redis.url) into a
// client with timeouts suited to a gateway: a dead Redis must show up as a
// fast error, not as requests hanging behind it. It does not connect; the
// first command does.
//
// Timeouts set in the URL's query (dial_timeout, read_timeout, …) win over
// these defaults.
func NewRedisClient(rawURL string) (*redis.Client, error) {
	opt, err := redisOptions(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	return redis.NewClient(opt), nil
}

// redisOptions parses redis.url as the client will use it. The error never
// repeats the URL: it may hold a password.
func redisOptions(rawURL string) (*redis.Options, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 2 * time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = time.Second
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = time.Second
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = 2 * time.Second
	}
	if opt.ConnMaxIdleTime == 0 {
		opt.ConnMaxIdleTime = 5 * time.Minute
	}
	// One dial attempt per command: the callers (the denylist's
	// subscription loop, the login throttle) retry or fail closed
	// themselves, and go-redis's default of five dial attempts would hold a
	// login up for seconds against an unreachable Redis.
	opt.DialerRetries = 1
	// A caller's context deadline bounds its command.
	opt.ContextTimeoutEnabled = true
	// Maintenance push notifications are a Redis Enterprise / Cloud feature;
	// do not probe for them on every new connection.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opt, nil
}
