package tokens

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/identity"
)

// cacheShards spreads the verified-token cache over independent locks so
// that concurrent requests rarely wait on one another. A power of two.
const cacheShards = 64

// verifyCache remembers access tokens whose signature and claims were
// verified, so that a token is verified once and later requests with it
// cost a hash and a map lookup (no allocation).
//
// Entries are keyed by a seeded hash of the token; the full token is kept
// in the entry and compared on every hit, so a hash collision is a miss,
// never someone else's identity. An entry is a miss once its token's exp
// has passed, or once the key set moved to a new epoch (a verification
// key was withdrawn).
//
// Only successes are cached. Caching failures would let a client fill the
// cache with garbage and push valid tokens out, and would save little: the
// malformed ones are rejected before any cryptography.
//
// Revocation is not the cache's concern: the denylist is checked on every
// request, cached token or not.
//
// The size is bounded: a full shard evicts an expired entry if the few it
// looks at include one, else a random one (map iteration order is random).
// A nil *verifyCache caches nothing.
type verifyCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]cacheEntry
	_  [64]byte // keep neighbouring shards' locks off one cache line
}

type cacheEntry struct {
	token string
	id    *identity.Identity
	exp   int64 // id.ExpiresAt in Unix nanoseconds
	epoch uint64
}

// evictProbe is how many entries a full shard looks at for an expired one
// before evicting at random.
const evictProbe = 8

// newVerifyCache returns a cache of about size entries, or nil (no cache)
// for size <= 0.
func newVerifyCache(size int) *verifyCache {
	if size <= 0 {
		return nil
	}
	c := &verifyCache{seed: maphash.MakeSeed(), perShard: (size + cacheShards - 1) / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]cacheEntry)
	}
	return c
}

func (c *verifyCache) shard(h uint64) *cacheShard { return &c.shards[h&(cacheShards-1)] }

// get returns the identity verified for token, if it is cached, verified
// in this epoch and not expired at now.
func (c *verifyCache) get(token string, now time.Time, epoch uint64) (*identity.Identity, bool) {
	if c == nil {
		return nil, false
	}
	h := maphash.String(c.seed, token)
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	if !ok || e.token != token || e.epoch != epoch || now.UnixNano() >= e.exp {
		return nil, false
	}
	return e.id, true
}

// put remembers that token verified to id in epoch.
func (c *verifyCache) put(token string, id *identity.Identity, now time.Time, epoch uint64) {
	if c == nil {
		return
	}
	h := maphash.String(c.seed, token)
	s := c.shard(h)
	e := cacheEntry{
		token: strings.Clone(token), // do not pin a larger request buffer
		id:    id,
		exp:   id.ExpiresAt.UnixNano(),
		epoch: epoch,
	}
	nowNano := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, replace := s.m[h]; !replace && len(s.m) >= c.perShard {
		s.evict(nowNano, epoch)
	}
	s.m[h] = e
}

// evict removes at least one entry: the expired or stale ones among the
// first few of a random iteration, else the first of them.
func (s *cacheShard) evict(now int64, epoch uint64) {
	var first uint64
	removed, seen := false, 0
	for h, e := range s.m {
		if seen == 0 {
			first = h
		}
		if now >= e.exp || e.epoch != epoch {
			delete(s.m, h)
			removed = true
		}
		if seen++; seen == evictProbe {
			break
		}
	}
	if !removed {
		delete(s.m, first)
	}
}

// clear drops every entry.
func (c *verifyCache) clear() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// size is the number of entries, for tests.
func (c *verifyCache) size() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
