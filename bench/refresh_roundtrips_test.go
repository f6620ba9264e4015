package bench

import (
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// TestRefreshRoundTrips counts the PostgreSQL round trips of one refresh
// (POST /auth/refresh) through a counting relay: every simple query ("Q")
// and every Sync ("S", the end of an extended-protocol exchange) is one.
// A refresh rotates the token and reads the user in one prepared statement
// inside a transaction: 3 (BEGIN, the statement, COMMIT). It took 10
// before (BEGIN; SELECT, UPDATE and INSERT at two each, unprepared;
// COMMIT; the user at two).
func TestRefreshRoundTrips(t *testing.T) {
	const refreshes = 50
	pgURL := testenv.PostgresURL(t)
	pg := newRelay(t, hostOf(t, pgURL, "5432"), parsePostgres)
	back := newBackend(t)
	g := startGateway(t, back.URL, gwOptions{alg: "ES256", redis: true, database: viaHost(t, pgURL, pg.addr)})
	client := newClient(t)
	const password = "roundtrip-passphrase-4711"
	register(t, client, g.base, "roundtripper", password)
	pair, err := login(client, g.base, "roundtripper", password)
	if err != nil {
		t.Fatal(err)
	}
	// The first refreshes on a connection prepare statements: warm up.
	for range 40 {
		if pair, err = refresh(client, g.base, pair.RefreshToken); err != nil {
			t.Fatal(err)
		}
	}
	before := pg.snapshot()
	for range refreshes {
		if pair, err = refresh(client, g.base, pair.RefreshToken); err != nil {
			t.Fatal(err)
		}
	}
	d := diff(before, pg.snapshot())
	perRefresh := float64(d["Q"]+d["S"]) / refreshes
	t.Logf("PostgreSQL messages for %d refreshes: %v; %.2f round trips per refresh", refreshes, d, perRefresh)
	if perRefresh > 3 {
		t.Errorf("PostgreSQL round trips per refresh = %.2f; want at most 3", perRefresh)
	}
}
