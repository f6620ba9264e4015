package testenv

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

// TestStartOriginal checks what StartOriginal promises its callers: the
// users table is in the caller's database, tokens are HS256 with the
// returned secret and lifetimes, and a logout lands under RevokedKey in
// RedisURL's database with the refresh lifetime as TTL. Two originals run
// at once, as parallel tests would, each in its own Redis database.
func TestStartOriginal(t *testing.T) {
	t.Parallel()
	type running struct {
		o     *Original
		dbURL string
	}
	var all []running
	for range 2 {
		dbURL := PostgresURL(t)
		o := StartOriginal(t, OriginalOptions{DatabaseURL: dbURL, AccessTTL: 30 * time.Minute, RefreshTTL: 48 * time.Hour})
		all = append(all, running{o, dbURL})
	}
	if all[0].o.RedisDB == all[1].o.RedisDB {
		t.Errorf("two originals running at once share Redis database %d", all[0].o.RedisDB)
	}
	for i, r := range all {
		t.Run("ok-"+strconv.Itoa(i), func(t *testing.T) { checkOriginal(t, r.o, r.dbURL) })
	}
}

func checkOriginal(t *testing.T, o *Original, dbURL string) {
	if o.RedisDB < originalFirstDB || o.RedisDB > originalLastDB {
		t.Errorf("RedisDB = %d; want one of %d-%d", o.RedisDB, originalFirstDB, originalLastDB)
	}
	post(t, o.URL+"/register", `{"username":"erin","email":"erin@example.com","password":"correct horse"}`, "", http.StatusCreated)
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(post(t, o.URL+"/login", `{"username":"erin","password":"correct horse"}`, "", http.StatusOK), &pair); err != nil {
		t.Fatal(err)
	}

	for tok, ttl := range map[string]time.Duration{pair.AccessToken: o.AccessTTL, pair.RefreshToken: o.RefreshTTL} {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(o.Secret), nil },
			jwt.WithValidMethods([]string{o.Algorithm}))
		if err != nil {
			t.Fatalf("verify the original's token with Secret: %v", err)
		}
		exp, _ := claims.GetExpirationTime()
		if got := time.Until(exp.Time); got > ttl || got < ttl-time.Minute {
			t.Errorf("token expires in %v; want about %v", got, ttl)
		}
		if claims["sub"] != "erin" || len(claims) != 2 {
			t.Errorf("claims = %v; want exactly sub (the username) and exp", claims)
		}
	}

	post(t, o.URL+"/logout", "", pair.AccessToken, http.StatusOK)
	opts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	ttl, err := rc.TTL(context.Background(), o.RevokedKey(pair.AccessToken)).Result()
	if err != nil || ttl <= o.RefreshTTL-time.Minute || ttl > o.RefreshTTL {
		t.Errorf("TTL %s in %s = %v, %v; want about %v", o.RevokedKey(pair.AccessToken), o.RedisURL, ttl, err, o.RefreshTTL)
	}

	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash string
	if err := db.QueryRow(`SELECT hashed_password FROM users WHERE username = 'erin'`).Scan(&hash); err != nil {
		t.Fatalf("the original's user is not in the caller's database: %v", err)
	}
	if len(hash) != 60 || hash[:7] != "$2b$12$" {
		t.Errorf("hashed_password = %q; want passlib's $2b$12$ bcrypt", hash)
	}
}

// TestLeaseOriginalRedisDB: a leased database with a stale blacklist key is
// cleaned and taken; one holding a key no test writes is refused; the lease
// ends with the test.
func TestLeaseOriginalRedisDB(t *testing.T) {
	t.Parallel()
	var leaseKey string
	var leases *redis.Client
	t.Run("ok-lease", func(t *testing.T) {
		url, n := leaseOriginalRedisDB(t)
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		if opts.DB != n {
			t.Fatalf("leased URL %q names database %d; want %d", url, opts.DB, n)
		}
		ctx := context.Background()
		c := redis.NewClient(opts)
		defer c.Close()

		c.Set(ctx, "revoked_token:stale", "1", time.Minute)
		if why := claimOriginalDB(ctx, opts); why != "" {
			t.Errorf("claimOriginalDB with a stale revoked_token key = %q; want it cleaned and taken", why)
		}
		if n, _ := c.Exists(ctx, "revoked_token:stale").Result(); n != 0 {
			t.Error("the stale revoked_token key was not deleted")
		}

		c.Set(ctx, "somebody:else", "1", time.Minute)
		defer c.Del(ctx, "somebody:else")
		if why := claimOriginalDB(ctx, opts); why == "" {
			t.Error("claimOriginalDB took a database holding a key no test writes")
		}

		base, _ := redis.ParseURL(testRedisURL())
		leases = redis.NewClient(base)
		leaseKey = originalLeasePrefix + strconv.Itoa(n)
		if v, _ := leases.Get(ctx, leaseKey).Result(); v == "" {
			t.Errorf("no lease %s while the test runs", leaseKey)
		}
	})
	if leases == nil {
		return
	}
	defer leases.Close()
	if v, err := leases.Get(context.Background(), leaseKey).Result(); err != redis.Nil {
		t.Errorf("lease %s = %q, %v after the test ended; want it released", leaseKey, v, err)
	}
}

// post sends body (JSON, or nothing) with an optional bearer token and
// returns the answer's body, failing unless the status is want.
func post(t *testing.T, url, body, token string, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(http.MethodPost, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s = %d %s; want %d", url, resp.StatusCode, b, want)
	}
	return b
}

func TestSQLAlchemyURL(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "ok-postgres", in: "postgres://postgres@127.0.0.1:5432/db?sslmode=disable", want: "postgresql+psycopg2://postgres@127.0.0.1:5432/db?sslmode=disable"},
		{name: "ok-postgresql", in: "postgresql://u:p@h/db", want: "postgresql+psycopg2://u:p@h/db"},
		{name: "ok-already", in: "postgresql+psycopg2://h/db", want: "postgresql+psycopg2://h/db"},
		{name: "fail-sqlite", in: "sqlite:/tmp/x.db", wantErr: true},
		{name: "fail-garbage", in: "::", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqlalchemyURL(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("sqlalchemyURL(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWholeUnits(t *testing.T) {
	tests := []struct {
		name    string
		in      time.Duration
		want    int64
		wantErr bool
	}{
		{name: "ok-default", in: 0, want: 15},
		{name: "ok-hour", in: time.Hour, want: 60},
		{name: "ok-negative", in: -time.Minute, want: -1},
		{name: "fail-seconds", in: 90 * time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wholeUnits(tt.in, 15*time.Minute, time.Minute, "AccessTTL", "minutes")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("wholeUnits(%v) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRedisURLForDB(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "ok-path", in: "redis://127.0.0.1:6379/0", want: "redis://127.0.0.1:6379/9"},
		{name: "ok-no-path", in: "redis://127.0.0.1:6379", want: "redis://127.0.0.1:6379/9"},
		{name: "ok-db-query", in: "redis://:pw@h:6379?db=3&dial_timeout=2s", want: "redis://:pw@h:6379/9?dial_timeout=2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redisURLForDB(t, tt.in, 9); got != tt.want {
				t.Errorf("redisURLForDB(%q, 9) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
