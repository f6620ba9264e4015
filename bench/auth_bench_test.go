package bench

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
	_ "github.com/lib/pq"
)

// BenchmarkRefresh measures POST /auth/refresh on PostgreSQL with the
// Redis denylist, through the gateway's HTTP API: each of 16 goroutines
// logs in once (a session of its own) and then rotates its refresh token
// as fast as it can — one transaction per refresh (look the token up with
// its session, mark it used, insert its successor) plus reading the user
// and signing an ES256 access token. It reports refreshes/s.
//
//	go test -run '^$' -bench BenchmarkRefresh -benchtime 10s ./bench/
func BenchmarkRefresh(b *testing.B) {
	back := newBackend(b)
	dbURL := testenv.PostgresURL(b)
	g := startGateway(b, back.URL, gwOptions{alg: "ES256", redis: true, database: dbURL})
	client := newClient(b)
	const password = "bench-refresh-passphrase-4711"
	register(b, client, g.base, "refresher", password)

	const goroutines = 16
	b.SetParallelism(goroutines / runtime.GOMAXPROCS(0))
	sessions := make(chan tokenPair, goroutines)
	for range goroutines {
		pair, err := login(client, g.base, "refresher", password)
		if err != nil {
			b.Fatal(err)
		}
		sessions <- pair
	}
	var failed atomic.Bool
	pgBefore, pgOK := postgresCPU(b, dbURL)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		pair := <-sessions
		defer func() { sessions <- pair }()
		var err error
		for pb.Next() {
			if failed.Load() {
				continue
			}
			if pair, err = refresh(client, g.base, pair.RefreshToken); err != nil {
				b.Error(err)
				failed.Store(true)
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
	// CPU per refresh hardly depends on what else the machine runs, which
	// refreshes/s on a shared machine does.
	b.ReportMetric(float64(cpuTime(ru1)-cpuTime(ru0))/float64(time.Microsecond)/float64(b.N), "gw-cpu-us/op")
	if pgAfter, ok := postgresCPU(b, dbURL); ok && pgOK {
		b.ReportMetric(float64(pgAfter-pgBefore)/float64(time.Microsecond)/float64(b.N), "pg-cpu-us/op")
	}
}

// BenchmarkLogin measures POST /auth/login at the default bcrypt cost
// (12): one goroutine (what one core does) and four (both cores busy).
// bcrypt, not the database, sets the pace. It reports logins/s.
//
//	go test -run '^$' -bench BenchmarkLogin -benchtime 20x ./bench/
func BenchmarkLogin(b *testing.B) {
	back := newBackend(b)
	g := startGateway(b, back.URL, gwOptions{alg: "ES256", redis: true, database: testenv.PostgresURL(b), bcrypt: 12})
	client := newClient(b)
	const password = "bench-login-passphrase-4711"
	register(b, client, g.base, "loginer", password)

	b.Run("1-goroutine", func(b *testing.B) {
		for b.Loop() {
			if _, err := login(client, g.base, "loginer", password); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
	b.Run("4-goroutines", func(b *testing.B) {
		b.SetParallelism(4 / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := login(client, g.base, "loginer", password); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func register(tb testing.TB, c *http.Client, base, username, password string) {
	tb.Helper()
	res, body, err := postJSON(c, base+"/auth/register", map[string]string{
		"username": username, "email": username + "@example.com", "password": password,
	})
	if err != nil || res.StatusCode != http.StatusCreated {
		tb.Fatalf("register %s: %v %v %s", username, err, statusOf(res), body)
	}
}

func login(c *http.Client, base, username, password string) (tokenPair, error) {
	return pairFrom(postJSON(c, base+"/auth/login", map[string]string{"username": username, "password": password}))
}

func refresh(c *http.Client, base, token string) (tokenPair, error) {
	return pairFrom(postJSON(c, base+"/auth/refresh", map[string]string{"refresh_token": token}))
}

func pairFrom(res *http.Response, body []byte, err error) (tokenPair, error) {
	var p tokenPair
	if err != nil {
		return p, err
	}
	if res.StatusCode != http.StatusOK {
		return p, fmt.Errorf("%s %s = %d %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &p); err != nil || p.AccessToken == "" || p.RefreshToken == "" {
		return p, fmt.Errorf("%s: no token pair in %s", res.Request.URL.Path, body)
	}
	return p, nil
}

func postJSON(c *http.Client, url string, v any) (*http.Response, []byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

func statusOf(res *http.Response) any {
	if res == nil {
		return "no response"
	}
	return res.StatusCode
}

func cpuTime(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time used so far by the PostgreSQL backends
// connected to the database of dbURL (other than the one asking), read
// from /proc: only when PostgreSQL runs on this machine and we may read
// its processes. ok is false otherwise.
func postgresCPU(tb testing.TB, dbURL string) (time.Duration, bool) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, false
	}
	defer db.Close()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return 0, false
	}
	defer rows.Close()
	hz := int64(100) // USER_HZ on Linux
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return 0, false
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration((ut + st) * int64(time.Second) / hz)
	}
	return total, rows.Err() == nil
}
