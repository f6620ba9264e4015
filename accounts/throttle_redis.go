package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/redis/go-redis/v9"
)

// ThrottleRedis is the login throttle shared by every instance through
// Redis: one counter per key at {prefix}throttle:{sha256(key)[:32]}, whose
// TTL is the window. Without Redis there is no count to check against, so
// every method fails with problem.ErrThrottleUnavailable and logins fail closed.
type ThrottleRedis struct {
	client *redis.Client
	prefix string
	limit  int
	per    time.Duration
}

// NewThrottleRedis returns a throttle allowing limit failures
// (auth_api.login_limit or register_limit, e.g. "5/min") per key per window, counted in Redis
// under prefix.
func NewThrottleRedis(client *redis.Client, prefix, limit string) (*ThrottleRedis, error) {
	n, per, err := ParseRate(limit)
	if err != nil {
		return nil, err
	}
	return &ThrottleRedis{client: client, prefix: prefix, limit: n, per: per}, nil
}

// checkScript returns the longest remaining window, in ms, among the keys
// that have reached the limit (ARGV[1]); ARGV[2] is the window, used should
// a counter have lost its TTL.
var checkScript = redis.NewScript(`
local wait = 0
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n >= tonumber(ARGV[1]) then
    local t = redis.call('PTTL', k)
    if t < 0 then t = tonumber(ARGV[2]) end
    if t > wait then wait = t end
  end
end
return wait
`)

// failScript counts one failure per key; the first failure opens the
// window (ARGV[1] ms). INCR and PEXPIRE run as one step, so a counter can
// never be left without a TTL and throttle its key forever.
var failScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
  if redis.call('INCR', k) == 1 or redis.call('PTTL', k) < 0 then
    redis.call('PEXPIRE', k, ARGV[1])
  end
end
return 0
`)

// Check implements Throttle.
func (t *ThrottleRedis) Check(ctx context.Context, keys ...string) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	ms, err := checkScript.Run(ctx, t.client, t.keys(keys), t.limit, t.per.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("login throttle: %w: %w", problem.ErrThrottleUnavailable, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Fail implements Throttle.
func (t *ThrottleRedis) Fail(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := failScript.Run(ctx, t.client, t.keys(keys), t.per.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("login throttle: %w: %w", problem.ErrThrottleUnavailable, err)
	}
	return nil
}

// Reset implements Throttle.
func (t *ThrottleRedis) Reset(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := t.client.Del(ctx, t.keys(keys)...).Err(); err != nil {
		return fmt.Errorf("login throttle: %w: %w", problem.ErrThrottleUnavailable, err)
	}
	return nil
}

func (t *ThrottleRedis) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = t.prefix + "throttle:" + throttleHash(k)
	}
	return out
}
