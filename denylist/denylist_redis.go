package denylist

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/redis/go-redis/v9"
)

// RedisDenylist keeps revocations in Redis and a mirror of them in every
// instance's memory.
//
// Keys, all under the configured prefix, each with a TTL equal to the
// entry's remaining life (so Redis itself forgets what can no longer
// matter, and the set stays small enough to load with SCAN):
//
//	{prefix}deny:sid:{sid}    "<revokedAt> <expires>"    (Unix ms)
//	{prefix}deny:user:{uid}   "<notBefore> <expires>"
//
// Revoke writes the key and PUBLISHes the entry on {prefix}deny in one Lua
// script, so no instance can see the key without the message having been
// sent. Every instance's Run subscribes to that channel and applies what it
// hears. On start and on every re-subscription Run first subscribes (and
// waits for Redis to confirm), then loads every key, and only then trusts
// the mirror: a revocation published before the subscription took hold is
// in the load, one published after it arrives as a message; none falls in
// between.
//
// While the subscription is down, or the load has not completed, Check
// fails closed (problem.ErrDenylistUnavailable) unless redis.on_error is "allow".
// Liveness is checked by PING whenever the channel has been quiet for
// pingEvery; silence for liveness (1 s) drops the subscription, and the
// mirror's trust lapses at that moment even if Run is blocked elsewhere.
//
// After each load, entries this instance holds and Redis lacks are written
// back: Redis may have restarted without persistence, or a Revoke may have
// failed (and answered 503) while Redis was down. Revocations only ever
// grow, so this is always safe.
type RedisDenylist struct {
	client  *redis.Client
	prefix  string // key prefix, e.g. "authgate:"
	channel string // {prefix}deny
	logger  *slog.Logger
	m       *mirror

	pingEvery   time.Duration // PING after this much silence on the channel
	liveness    time.Duration // this much silence means Redis is gone; also the trust lease
	minBackoff  time.Duration // first wait before re-subscribing
	maxBackoff  time.Duration // longest wait between attempts
	loadTimeout time.Duration // bound on one full load
	pruneEvery  time.Duration // how often expired entries leave the mirror

	running atomic.Bool
}

// NewRedisDenylist returns a denylist stored in Redis under prefix. onError
// is redis.on_error: "allow" keeps answering from the mirror while Redis is
// unreachable; anything else ("deny", the default) fails closed. accessTTL
// is tokens.access_ttl, the longest an entry must live. Nothing is trusted
// until Run has subscribed and loaded.
func NewRedisDenylist(client *redis.Client, prefix string, onError string, accessTTL time.Duration, logger *slog.Logger) *RedisDenylist {
	logger = cmp.Or(logger, slog.New(slog.DiscardHandler))
	return &RedisDenylist{
		client:      client,
		prefix:      prefix,
		channel:     prefix + "deny",
		logger:      logger,
		m:           newMirror(onError, accessTTL),
		pingEvery:   250 * time.Millisecond,
		liveness:    time.Second,
		minBackoff:  100 * time.Millisecond,
		maxBackoff:  time.Second,
		loadTimeout: 10 * time.Second,
		pruneEvery:  time.Minute,
	}
}

// Check implements Denylist. It reads only the in-memory mirror.
func (d *RedisDenylist) Check(id *identity.Identity) error { return d.m.check(id) }

// Ready reports whether the mirror is current: subscribed, loaded, and
// heard from Redis within the last second. For /readyz.
func (d *RedisDenylist) Ready() bool { return d.m.trusted() }

// revokeScript stores an entry, keeping the later not-before and expiry if
// the key exists (two instances revoking at once must not lower a cut-off),
// and publishes it in the same atomic step.
//
// KEYS[1] the entry key; ARGV: notBefore ms, expires ms, TTL ms, channel,
// message.
var revokeScript = redis.NewScript(`
local nb, exp, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = redis.call('GET', KEYS[1])
if cur then
  local cnb, cexp = string.match(cur, '^(%d+) (%d+)$')
  if cnb then
    nb = math.max(nb, tonumber(cnb))
    exp = math.max(exp, tonumber(cexp))
    ttl = math.max(ttl, redis.call('PTTL', KEYS[1]))
  end
end
redis.call('SET', KEYS[1], string.format('%d %d', nb, exp), 'PX', ttl)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`)

// Revoke implements Denylist. The entry is in this instance's mirror before
// Redis is even asked, and stays there if Redis fails; the error then wraps
// problem.ErrDenylistUnavailable so the caller answers 503 instead of claiming a
// logout that other instances will not see.
func (d *RedisDenylist) Revoke(ctx context.Context, r Revocation) error {
	e, err := d.m.entryFor(r)
	if err != nil {
		return err
	}
	d.m.apply(e)
	if err := d.store(ctx, e); err != nil {
		return fmt.Errorf("denylist: revoke: %w: %w", problem.ErrDenylistUnavailable, err)
	}
	return nil
}

// store writes and publishes one entry.
func (d *RedisDenylist) store(ctx context.Context, e entry) error {
	ttl := e.expires - d.m.now().UnixMilli()
	if ttl <= 0 {
		return nil // everything it covers has expired already
	}
	return revokeScript.Run(ctx, d.client, []string{d.key(e)},
		e.notBefore, e.expires, ttl, d.channel, e.message()).Err()
}

func (d *RedisDenylist) key(e entry) string {
	if e.kind == kindSession {
		return d.prefix + "deny:sid:" + e.subject
	}
	return d.prefix + "deny:user:" + e.subject
}

// Run keeps the mirror in step with Redis until ctx is done, re-subscribing
// with a capped backoff whenever the subscription breaks. It returns nil
// when ctx is cancelled, and an error only if called a second time.
func (d *RedisDenylist) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("denylist: Run called twice")
	}
	backoff := d.minBackoff
	lastPrune := d.m.now()
	down := false
	for {
		start := time.Now()
		err := d.follow(ctx, &lastPrune, &down)
		d.m.distrust()
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > d.maxBackoff {
			backoff = d.minBackoff // it had been working: retry promptly
		}
		if !down {
			d.logger.Warn("denylist: redis subscription lost; mirror not trusted until it is back",
				"err", err, "on_error", onErrorName(d.m.failOpen))
			down = true
		} else {
			d.logger.Debug("denylist: redis still unavailable", "err", err)
		}
		d.maybePrune(&lastPrune)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, d.maxBackoff)
	}
}

// follow runs one subscription: subscribe, load, trust, then apply
// messages until the connection fails or goes quiet.
func (d *RedisDenylist) follow(ctx context.Context, lastPrune *time.Time, down *bool) error {
	ps := d.client.Subscribe(ctx) // no channel yet: connects on Subscribe below
	defer ps.Close()
	if err := ps.Subscribe(ctx, d.channel); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := d.awaitSubscribed(ctx, ps); err != nil {
		return err
	}

	loadCtx, cancel := context.WithTimeout(ctx, d.loadTimeout)
	loaded, err := d.load(loadCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	d.m.merge(loaded)
	d.m.trustFor(d.liveness)
	if *down {
		d.logger.Info("denylist: redis subscription restored; mirror reloaded", "entries", d.m.size())
		*down = false
	} else {
		d.logger.Debug("denylist: mirror loaded from redis", "entries", d.m.size())
	}
	d.reseed(ctx, loaded)

	lastHeard := time.Now()
	for {
		msg, err := ps.ReceiveTimeout(ctx, d.pingEvery)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !isTimeout(err) {
				return fmt.Errorf("receive: %w", err)
			}
			if silent := time.Since(lastHeard); silent >= d.liveness {
				return fmt.Errorf("no reply from redis for %s", silent.Round(time.Millisecond))
			}
			if err := ps.Ping(ctx); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			continue
		}
		// Any reply (message, pong) proves the connection alive.
		lastHeard = time.Now()
		d.m.trustFor(d.liveness)
		if m, ok := msg.(*redis.Message); ok {
			e, err := parseMessage(m.Payload)
			if err != nil {
				d.logger.Warn("denylist: ignoring malformed message", "channel", m.Channel, "err", err)
				continue
			}
			d.m.apply(e)
		}
		d.maybePrune(lastPrune)
	}
}

// The wire form of an entry, as published on the Redis channel: one line,
// the subject last so that it may hold any character.
//
//	s <expires> <sid>
//	u <notBefore> <expires> <uid>
func (e entry) message() string {
	if e.kind == kindSession {
		return "s " + strconv.FormatInt(e.expires, 10) + " " + e.subject
	}
	return "u " + strconv.FormatInt(e.notBefore, 10) + " " + strconv.FormatInt(e.expires, 10) + " " + e.subject
}

func parseMessage(s string) (entry, error) {
	kind, rest, _ := strings.Cut(s, " ")
	var e entry
	var err error
	switch kind {
	case "s":
		e.kind = kindSession
	case "u":
		e.kind = kindUser
		var nb string
		nb, rest, _ = strings.Cut(rest, " ")
		if e.notBefore, err = strconv.ParseInt(nb, 10, 64); err != nil {
			return entry{}, fmt.Errorf("denylist message: not-before: %w", err)
		}
	default:
		return entry{}, fmt.Errorf("denylist message: unknown kind %q", kind)
	}
	exp, subject, _ := strings.Cut(rest, " ")
	if e.expires, err = strconv.ParseInt(exp, 10, 64); err != nil {
		return entry{}, fmt.Errorf("denylist message: expiry: %w", err)
	}
	if subject == "" {
		return entry{}, errors.New("denylist message: no subject")
	}
	e.subject = subject
	return e, nil
}

// awaitSubscribed waits for Redis to confirm the SUBSCRIBE: only from then
// on are messages guaranteed to reach us, so only then may the load start.
func (d *RedisDenylist) awaitSubscribed(ctx context.Context, ps *redis.PubSub) error {
	deadline := time.Now().Add(d.liveness)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return errors.New("subscribe: no confirmation from redis")
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		if s, ok := msg.(*redis.Subscription); ok && s.Kind == "subscribe" && s.Channel == d.channel {
			return nil
		}
	}
}

// load reads every entry under the prefix. SCAN may return a key twice or
// miss one that is created meanwhile; the first is harmless (entries merge)
// and the second arrives as a message, because we subscribed first.
func (d *RedisDenylist) load(ctx context.Context) ([]entry, error) {
	var out []entry
	match := escapeGlob(d.prefix) + "deny:*"
	var cursor uint64
	for {
		keys, next, err := d.client.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 {
			vals, err := d.client.MGet(ctx, keys...).Result()
			if err != nil {
				return nil, err
			}
			for i, v := range vals {
				s, ok := v.(string)
				if !ok {
					continue // expired between SCAN and MGET
				}
				e, err := d.parseStored(keys[i], s)
				if err != nil {
					d.logger.Warn("denylist: ignoring malformed key", "err", err)
					continue
				}
				out = append(out, e)
			}
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

func (d *RedisDenylist) parseStored(key, val string) (entry, error) {
	var e entry
	rest := strings.TrimPrefix(key, d.prefix+"deny:")
	if sid, ok := strings.CutPrefix(rest, "sid:"); ok {
		e.kind, e.subject = kindSession, sid
	} else if uid, ok := strings.CutPrefix(rest, "user:"); ok {
		e.kind, e.subject = kindUser, uid
	} else {
		return entry{}, errors.New("unknown kind of key after the deny: prefix")
	}
	nb, exp, ok := strings.Cut(val, " ")
	var err1, err2 error
	e.notBefore, err1 = strconv.ParseInt(nb, 10, 64)
	e.expires, err2 = strconv.ParseInt(exp, 10, 64)
	if !ok || err1 != nil || err2 != nil || e.subject == "" {
		return entry{}, errors.New("malformed value") // subject left out: ids stay out of logs
	}
	return e, nil
}

// reseed writes back the entries this instance holds and Redis does not —
// after Redis restarted without persistence, say — so that instances
// started later learn them too. Best effort: a failure is logged, and the
// next re-subscription tries again.
func (d *RedisDenylist) reseed(ctx context.Context, loaded []entry) {
	have := make(map[string]entry, len(loaded))
	for _, e := range loaded {
		have[d.key(e)] = e
	}
	n := 0
	for _, e := range d.m.snapshot() {
		if l, ok := have[d.key(e)]; ok && l.notBefore >= e.notBefore && l.expires >= e.expires {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, d.liveness)
		err := d.store(sctx, e)
		cancel()
		if err != nil {
			d.logger.Warn("denylist: could not re-seed redis with a known revocation", "err", err)
			return
		}
		n++
	}
	if n > 0 {
		d.logger.Info("denylist: re-seeded redis with revocations it had lost", "entries", n)
	}
}

func (d *RedisDenylist) maybePrune(last *time.Time) {
	if now := d.m.now(); now.Sub(*last) >= d.pruneEvery {
		*last = now
		if n := d.m.prune(); n > 0 {
			d.logger.Debug("denylist: pruned expired entries", "entries", n)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// escapeGlob quotes the glob metacharacters of SCAN MATCH in s.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func onErrorName(failOpen bool) string {
	if failOpen {
		return OnErrorAllow
	}
	return OnErrorDeny
}
