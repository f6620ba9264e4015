package tokens

import (
	"fmt"
	"hash/maphash"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
)

func cachedIdentity(exp time.Time) *identity.Identity {
	return identity.New(identity.Identity{UserID: "42", SessionID: "s", ExpiresAt: exp})
}

// tokensInShard returns n distinct strings that hash to shard 0 of c.
func tokensInShard(c *verifyCache, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		tok := fmt.Sprintf("token-%d", i)
		if maphash.String(c.seed, tok)&(cacheShards-1) == 0 {
			out = append(out, tok)
		}
	}
	return out
}

func TestVerifyCacheGet(t *testing.T) {
	now := testNow
	live := cachedIdentity(now.Add(time.Minute))
	tests := []struct {
		name  string
		put   string
		get   string
		now   time.Time
		epoch uint64
		want  *identity.Identity
	}{
		{name: "ok-hit", put: "a", get: "a", now: now, want: live},
		{name: "ok-hit-just-before-exp", put: "a", get: "a", now: now.Add(time.Minute - time.Nanosecond), want: live},
		{name: "fail-other-token", put: "a", get: "b", now: now},
		{name: "fail-at-exp", put: "a", get: "a", now: now.Add(time.Minute)},
		{name: "fail-after-exp", put: "a", get: "a", now: now.Add(time.Hour)},
		{name: "fail-other-epoch", put: "a", get: "a", now: now, epoch: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newVerifyCache(1000)
			c.put(tt.put, live, now, 0)
			if got, ok := c.get(tt.get, tt.now, tt.epoch); got != tt.want || ok != (tt.want != nil) {
				t.Fatalf("get(%q) = %v, %v; want %v", tt.get, got, ok, tt.want)
			}
		})
	}
}

// Two tokens with the same hash never share an entry: the stored token is
// compared on every hit.
func TestVerifyCacheCollisionIsAMiss(t *testing.T) {
	c := newVerifyCache(1000)
	victim := cachedIdentity(testNow.Add(time.Minute))
	c.put("victim", victim, testNow, 0)
	h := maphash.String(c.seed, "victim")
	s := c.shard(h)
	// Plant the victim's entry under the attacker token's hash.
	e := s.m[h]
	attackerHash := maphash.String(c.seed, "attacker")
	c.shard(attackerHash).m[attackerHash] = e
	if got, ok := c.get("attacker", testNow, 0); ok {
		t.Fatalf("get(attacker) = %v; want a miss despite the matching hash", got)
	}
}

func TestVerifyCacheBounded(t *testing.T) {
	c := newVerifyCache(cacheShards * 4)
	id := cachedIdentity(testNow.Add(time.Minute))
	for i := range 10_000 {
		c.put(fmt.Sprintf("token-%d", i), id, testNow, 0)
	}
	if n := c.size(); n > cacheShards*4 {
		t.Fatalf("size() = %d after 10000 puts; want at most %d", n, cacheShards*4)
	}
}

// A full shard evicts an expired entry before a live one.
func TestVerifyCacheEvictsExpiredFirst(t *testing.T) {
	c := newVerifyCache(cacheShards * 4) // 4 per shard
	toks := tokensInShard(c, 5)
	live, dead := cachedIdentity(testNow.Add(time.Minute)), cachedIdentity(testNow.Add(time.Second))
	c.put(toks[0], live, testNow, 0)
	c.put(toks[1], dead, testNow, 0)
	c.put(toks[2], live, testNow, 0)
	c.put(toks[3], live, testNow, 0)
	later := testNow.Add(10 * time.Second) // dead has expired
	c.put(toks[4], live, later, 0)
	for _, i := range []int{0, 2, 3, 4} {
		if _, ok := c.get(toks[i], later, 0); !ok {
			t.Fatalf("get(toks[%d]) missed; want live entries kept while an expired one can go", i)
		}
	}
	if n := len(c.shard(0).m); n != 4 {
		t.Fatalf("shard holds %d entries; want 4", n)
	}
}

func TestVerifyCacheNilAndClear(t *testing.T) {
	var none *verifyCache
	none.put("a", cachedIdentity(testNow.Add(time.Minute)), testNow, 0)
	if _, ok := none.get("a", testNow, 0); ok || none.size() != 0 {
		t.Fatalf("a nil cache cached something")
	}
	none.clear()
	if newVerifyCache(0) != nil {
		t.Fatalf("newVerifyCache(0) != nil; want no cache")
	}

	c := newVerifyCache(100)
	c.put("a", cachedIdentity(testNow.Add(time.Minute)), testNow, 0)
	c.clear()
	if _, ok := c.get("a", testNow, 0); ok {
		t.Fatalf("get after clear hit")
	}
}
