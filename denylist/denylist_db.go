package denylist

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/store"
)

// DBDenylist is the embedded denylist, used when no Redis is configured:
// revocations are rows of the revocations table (times in Unix ms) and
// every instance mirrors them in memory.
//
// Revoke inserts the row and applies it to this instance's mirror. Other
// instances sharing the database (several gateways on one PostgreSQL) poll
// for rows with a higher id every pollEvery (250 ms), so a revocation
// reaches every instance within about pollEvery plus one query — the
// propagation bound. On SQLite there is one process per database file, and
// the table makes revocations survive restarts.
//
// PostgreSQL hands out BIGSERIAL ids before commit, so a row can become
// visible after a row with a higher id was already read. Each poll
// therefore re-reads every row newer than what it had seen lookback (2 s)
// earlier: a revocation whose INSERT takes less than about that long to
// commit is never skipped. SQLite serialises writers, so ids commit in
// order and no look-back is needed.
//
// Trust: the mirror is trusted for failAfter (2 s) after each successful
// poll. When the database stops answering for longer, Check fails closed
// (problem.ErrDenylistUnavailable) unless onError is "allow"; what the mirror holds
// is still enforced either way.
type DBDenylist struct {
	db     *store.DB
	logger *slog.Logger
	m      *mirror

	pollEvery  time.Duration // how often other instances' rows are picked up
	failAfter  time.Duration // trust lasts this long after a successful poll; also the query timeout
	lookback   time.Duration // re-read window for rows that commit out of id order
	pruneEvery time.Duration // how often expired rows and entries are deleted

	// Owned by Run's goroutine.
	maxID int64      // highest id applied
	marks []pollMark // maxID as of recent polls, oldest first

	running atomic.Bool
}

// pollMark records that every row with id ≤ maxID committed before at has
// been applied.
type pollMark struct {
	at    time.Time
	maxID int64
}

// NewDBDenylist returns a denylist stored in db. onError is redis.on_error
// ("allow" keeps answering from the mirror while the database is
// unreachable; anything else fails closed); accessTTL is tokens.access_ttl.
// Nothing is trusted until Run's first poll has loaded the table.
func NewDBDenylist(db *store.DB, onError string, accessTTL time.Duration, logger *slog.Logger) *DBDenylist {
	logger = cmp.Or(logger, slog.New(slog.DiscardHandler))
	d := &DBDenylist{
		db:         db,
		logger:     logger,
		m:          newMirror(onError, accessTTL),
		pollEvery:  250 * time.Millisecond,
		failAfter:  2 * time.Second,
		lookback:   2 * time.Second,
		pruneEvery: time.Minute,
	}
	if db.Dialect == store.SQLite {
		d.lookback = 0
	}
	return d
}

// Check implements Denylist. It reads only the in-memory mirror.
func (d *DBDenylist) Check(id *identity.Identity) error { return d.m.check(id) }

// Ready reports whether the mirror is current: loaded, and polled
// successfully within failAfter. For /readyz.
func (d *DBDenylist) Ready() bool { return d.m.trusted() }

// Revoke implements Denylist. The entry is in this instance's mirror before
// the INSERT runs and stays there if it fails; the error then wraps
// problem.ErrDenylistUnavailable.
func (d *DBDenylist) Revoke(ctx context.Context, r Revocation) error {
	e, err := d.m.entryFor(r)
	if err != nil {
		return err
	}
	d.m.apply(e)
	if e.expires <= d.m.now().UnixMilli() {
		return nil // everything it covers has expired already
	}
	_, err = d.db.ExecContext(ctx, d.db.Rebind(
		`INSERT INTO revocations (kind, subject, not_before, expires_at) VALUES (?, ?, ?, ?)`),
		e.kind, e.subject, e.notBefore, e.expires)
	if err != nil {
		return fmt.Errorf("denylist: revoke: %w: %w", problem.ErrDenylistUnavailable, err)
	}
	return nil
}

// Run loads the table, then polls it until ctx is done, and prunes expired
// rows. It returns nil when ctx is cancelled, and an error only if called a
// second time.
func (d *DBDenylist) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("denylist: Run called twice")
	}
	tick := time.NewTicker(d.pollEvery)
	defer tick.Stop()
	var lastPrune time.Time // zero: prune once the first load is done
	failing, loaded := false, false
	for {
		err := d.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			d.logger.Warn("denylist: cannot read revocations from the database; failing closed after "+d.failAfter.String(),
				"err", err, "on_error", onErrorName(d.m.failOpen))
			failing = true
		case err != nil:
			d.logger.Debug("denylist: database still unavailable", "err", err)
		case failing:
			d.logger.Info("denylist: database reachable again", "entries", d.m.size())
			failing = false
		case !loaded:
			d.logger.Debug("denylist: mirror loaded from the database", "entries", d.m.size())
		}
		loaded = loaded || err == nil
		if loaded && d.m.now().Sub(lastPrune) >= d.pruneEvery {
			lastPrune = d.m.now()
			d.prune(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

type revocationRow struct {
	ID        int64  `db:"id"`
	Kind      string `db:"kind"`
	Subject   string `db:"subject"`
	NotBefore int64  `db:"not_before"`
	ExpiresAt int64  `db:"expires_at"`
}

// poll applies every unexpired row above the look-back floor. The first
// poll (floor 0) is the full load.
func (d *DBDenylist) poll(ctx context.Context) error {
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, d.failAfter)
	defer cancel()
	var rows []revocationRow
	err := d.db.SelectContext(qctx, &rows, d.db.Rebind(
		`SELECT id, kind, subject, not_before, expires_at FROM revocations
		 WHERE id > ? AND expires_at > ? ORDER BY id`),
		d.floor(start), d.m.now().UnixMilli())
	if err != nil {
		return err
	}
	es := make([]entry, 0, len(rows))
	for _, r := range rows {
		d.maxID = max(d.maxID, r.ID)
		if r.Kind != kindSession && r.Kind != kindUser {
			continue // written by a newer version; not ours to interpret
		}
		es = append(es, entry{kind: r.Kind, subject: r.Subject, notBefore: r.NotBefore, expires: r.ExpiresAt})
	}
	d.m.merge(es)
	d.marks = append(d.marks, pollMark{at: start, maxID: d.maxID})
	d.m.trustFor(d.failAfter)
	return nil
}

// floor is the id above which the poll starting at now must read: the
// highest id seen by a poll that started at least lookback ago, or 0 (read
// everything unexpired) while there is none.
func (d *DBDenylist) floor(now time.Time) int64 {
	if d.lookback <= 0 {
		return d.maxID
	}
	cut := -1
	for i, mk := range d.marks {
		if now.Sub(mk.at) < d.lookback {
			break
		}
		cut = i
	}
	if cut < 0 {
		return 0
	}
	d.marks = d.marks[cut:] // older marks can never be the floor again
	return d.marks[0].maxID
}

// prune deletes expired rows (every instance may do so; the DELETE is
// idempotent) and drops expired entries from the mirror.
func (d *DBDenylist) prune(ctx context.Context) {
	d.m.prune()
	qctx, cancel := context.WithTimeout(ctx, d.failAfter)
	defer cancel()
	res, err := d.db.ExecContext(qctx, d.db.Rebind(`DELETE FROM revocations WHERE expires_at <= ?`), d.m.now().UnixMilli())
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Warn("denylist: pruning expired revocations failed", "err", err)
		}
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		d.logger.Debug("denylist: pruned expired revocations", "rows", n)
	}
}
