package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver, registered as "postgres"
	"modernc.org/sqlite"  // SQLite driver without cgo, registered as "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialects authgate's store runs on. One store, two drivers: queries are
// written with ? placeholders and passed through DB.Rebind.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is the account database: users, sessions, refresh tokens, and (without
// Redis) revocations and the shared ACME certificate cache.
type DB struct {
	*sqlx.DB
	Dialect string // Postgres or SQLite
	// Path is the database file for SQLite, "" for PostgreSQL. Files that
	// belong beside the database (the generated signing secret) go in its
	// directory.
	Path string

	closed error // database/sql's error for a closed DB, see closedDBError
}

//go:embed migrations
var migrationFS embed.FS

// PostgreSQL advisory lock keys of the start-up steps, in one place so
// that none collides with another.
const (
	// migrationLockID is held while migrating, so two instances starting
	// at once apply each migration exactly once.
	migrationLockID = 7_163_001_947
	// BackfillLockID is held while the account store fills in the
	// normalised keys of rows the original service wrote.
	BackfillLockID = migrationLockID + 1
)

// Open connects to rawURL ("sqlite:PATH" or "postgres://…", database.url),
// checks the connection and applies pending migrations.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	return OpenAt(ctx, rawURL, math.MaxInt)
}

// OpenAt is Open that applies the migrations only up to version: the
// schema an older authgate left behind. It is for the tests of what later
// migrations do to data written under an older schema; authgate itself
// always opens with Open.
func OpenAt(ctx context.Context, rawURL string, version int) (*DB, error) {
	db, err := openDB(rawURL)
	if err != nil {
		return nil, err
	}
	if err := db.ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := db.migrate(ctx, version); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ping checks the connection. The first connection to a new SQLite file
// switches it to WAL, which needs an exclusive lock that SQLite does not
// wait for with busy_timeout: two processes opening one new file at once
// can see SQLITE_BUSY, so that case is retried for a few seconds.
func (db *DB) ping(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || db.Dialect != SQLite || attempt >= 100 || !errors.As(err, &se) ||
			se.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func openDB(rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := sqlitePath(rawURL)
		if path == "" {
			return nil, errors.New("database: sqlite URL has no file path")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("database: %w", err)
			}
		}
		// The file holds password hashes: create it private. SQLite gives
		// its -wal and -shm files the same mode.
		if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
		// WAL lets readers run beside the one writer; busy_timeout makes a
		// second writer wait instead of failing; _txlock=immediate takes
		// the write lock at BEGIN so read-then-write transactions cannot
		// deadlock into SQLITE_BUSY.
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
		x, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		return &DB{DB: x, Dialect: SQLite, Path: path, closed: closedDBError()}, nil
	case isPostgres(rawURL):
		connector, err := newPGConnector(withConnectTimeout(rawURL))
		if err != nil {
			// lib/pq's parse errors do not repeat the URL.
			return nil, fmt.Errorf("database: %w", err)
		}
		x := sqlx.NewDb(sql.OpenDB(connector), "postgres")
		x.SetMaxOpenConns(32)
		x.SetMaxIdleConns(32)
		x.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{DB: x, Dialect: Postgres, closed: closedDBError()}, nil
	}
	return nil, fmt.Errorf("database: unsupported URL scheme in %q: use sqlite:PATH or postgres://", RedactURL(rawURL))
}

// defaultConnectTimeout is lib/pq's connect_timeout (seconds) when the URL
// sets none: lib/pq otherwise waits for ever on a server that accepts the
// TCP connection and never answers the startup message.
const defaultConnectTimeout = "10"

// withConnectTimeout adds connect_timeout to a postgres:// URL that has
// none.
func withConnectTimeout(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL // lib/pq reports it
	}
	q := u.Query()
	if q.Has("connect_timeout") {
		return rawURL
	}
	q.Set("connect_timeout", defaultConnectTimeout)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedactURL hides a password in a database (or Redis) URL so it can appear
// in errors and logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

type migration struct {
	version int
	name    string
	sql     string
}

func (db *DB) migrations() ([]migration, error) {
	dir := "migrations/" + db.Dialect
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		body, err := fs.ReadFile(migrationFS, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Versions lists the versions of db's migrations, in the order they apply.
func (db *DB) Versions() ([]int, error) {
	all, err := db.migrations()
	if err != nil {
		return nil, err
	}
	out := make([]int, len(all))
	for i, m := range all {
		out[i] = m.version
	}
	return out, nil
}

// migrate applies every migration up to version last not yet recorded in
// schema_migrations, each in its own transaction. Migrations only add:
// they never drop or rewrite user data.
func (db *DB) migrate(ctx context.Context, last int) error {
	all, err := db.migrations()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer conn.Close()

	if db.Dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
			return fmt.Errorf("migrations: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, m := range all {
		if m.version > last {
			break
		}
		if err := db.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, conn *sqlx.Conn, m migration) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UTC()); err != nil {
		return err
	}
	return tx.Commit()
}
