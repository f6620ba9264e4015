package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The original writes its blacklist as revoked_token:<token> with no prefix
// and no way to give it one, so each running original gets a whole Redis
// logical database, leased to one test at a time on the server named by
// TEST_REDIS_URL:
//
//   - databases 8 to 15 are reserved for it; nothing else in the repository
//     uses them (the tests share database 0 under key prefixes, and the
//     original's env.example names 7 for a person running it by hand);
//   - the lease is the key authgate_test_original_db:N in TEST_REDIS_URL's
//     database, set only if absent and expiring a minute after the test
//     binary's -timeout (an hour without one), so a crashed test frees it;
//   - a database is taken only if it holds nothing but keys a test left
//     (revoked_token:*, authgate_test_*): those are stale, because the lease
//     proves no running test owns them. A database holding anything else is
//     somebody's data and is skipped, never emptied. No test ever runs
//     FLUSHDB;
//   - when the test ends, the same two kinds of key are deleted and the
//     lease released (only if it is still this test's).
const (
	originalFirstDB     = 8
	originalLastDB      = 15
	originalLeasePrefix = "authgate_test_original_db:"
	originalLeaseWait   = 2 * time.Minute
)

// originalTestKeys are the patterns of keys a test may leave in a leased
// database: the original's blacklist and an authgate's key_prefix from
// RandomName("authgate_test_").
var originalTestKeys = []string{"revoked_token:*", "authgate_test_*"}

// releaseLease deletes the lease key only if it still holds this test's
// value: a lease that expired and went to another test stays theirs.
var releaseLease = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// leaseOriginalRedisDB leases a database for one original and returns its
// URL and number.
func leaseOriginalRedisDB(t testing.TB) (string, int) {
	t.Helper()
	base := testRedisURL()
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	if c, err := net.DialTimeout("tcp", opts.Addr, 2*time.Second); err != nil {
		unavailable(t, "Redis", err)
	} else {
		c.Close()
	}
	leases := redis.NewClient(opts)
	t.Cleanup(func() { leases.Close() })

	ttl := time.Hour
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			ttl = time.Until(deadline) + time.Minute
		}
	}
	owner := RandomName("authgate_test_") + " " + t.Name()
	ctx := context.Background()
	skipped := map[int]string{}
	deadline := time.Now().Add(originalLeaseWait)
	for {
		for n := originalFirstDB; n <= originalLastDB; n++ {
			if n == opts.DB || skipped[n] != "" {
				continue
			}
			key := fmt.Sprintf("%s%d", originalLeasePrefix, n)
			ok, err := leases.SetNX(ctx, key, owner, ttl).Result()
			if err != nil {
				t.Fatalf("lease Redis database %d (SET %s NX in database %d): %v", n, key, opts.DB, err)
			}
			if !ok {
				continue
			}
			dbOpts := *opts
			dbOpts.DB = n
			if why := claimOriginalDB(ctx, &dbOpts); why != "" {
				skipped[n] = why
				releaseLease.Run(ctx, leases, []string{key}, owner)
				t.Logf("!!! Redis database %d is not used for the original: %s", n, why)
				continue
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := deleteOriginalTestKeys(ctx, &dbOpts); err != nil {
					t.Errorf("clean Redis database %d after the original: %v", n, err)
				}
				if err := releaseLease.Run(ctx, leases, []string{key}, owner).Err(); err != nil {
					t.Errorf("release the lease %s: %v", key, err)
				}
			})
			return redisURLForDB(t, base, n), n
		}
		if len(skipped) == originalLastDB-originalFirstDB+1 || time.Now().After(deadline) {
			t.Fatalf("no Redis database in %d-%d could be leased for the original within %v (leases are the keys %s* in database %d of %s; skipped: %v)",
				originalFirstDB, originalLastDB, originalLeaseWait, originalLeasePrefix, opts.DB, base, skipped)
		}
		time.Sleep(100 * time.Millisecond) // every database is leased to another running test: wait for one
	}
}

// claimOriginalDB checks that a freshly leased database holds only keys a
// test left, and deletes those. It returns why the database cannot be
// used, or "".
func claimOriginalDB(ctx context.Context, opts *redis.Options) string {
	c := redis.NewClient(opts)
	defer c.Close()
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		if !isOriginalTestKey(iter.Val()) {
			return fmt.Sprintf("it holds %q, which no test writes", iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		if strings.Contains(err.Error(), "DB index is out of range") {
			return "the server has fewer databases"
		}
		return err.Error()
	}
	if err := deleteOriginalTestKeys(ctx, opts); err != nil {
		return err.Error()
	}
	return ""
}

func isOriginalTestKey(key string) bool {
	for _, p := range originalTestKeys {
		if strings.HasPrefix(key, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// deleteOriginalTestKeys deletes the keys a test may have left in the
// leased database, and nothing else.
func deleteOriginalTestKeys(ctx context.Context, opts *redis.Options) error {
	c := redis.NewClient(opts)
	defer c.Close()
	var errs []error
	for _, pattern := range originalTestKeys {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, iter.Err())
	}
	return errors.Join(errs...)
}

// redisURLForDB is base with its database number replaced by n.
func redisURLForDB(t testing.TB, base string, n int) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	q := u.Query()
	q.Del("db") // go-redis also reads the database from ?db=
	u.RawQuery = q.Encode()
	u.Path = fmt.Sprintf("/%d", n)
	return u.String()
}

// testRedisURL is TEST_REDIS_URL or its default.
func testRedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultRedis
}
