package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/authgate/authgate/internal/problem"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Classifying the errors of the database. The stores built on it (users,
// sessions) return problem.ErrStoreUnavailable (503) when the database
// cannot be reached or does not answer in time, the caller's own context
// error when it gave up, and the driver's error otherwise (a bug: 500).
// Constraint violations become the domain errors (problem.ErrUsernameTaken,
// problem.ErrEmailTaken) where they happen, told by IsUniqueViolation and
// IsForeignKeyViolation, so that no caller needs to know the drivers.

// Err wraps err from operation op on db (nil stays nil). ctx is the
// context the operation ran under: when it is done, its error decides,
// because drivers report a cancelled query in their own words (lib/pq:
// SQLSTATE 57014; modernc: SQLITE_INTERRUPT).
func (db *DB) Err(ctx context.Context, op string, err error) error {
	return storeError(ctx, db.closed, op, err)
}

// storeError is Err with db's closed error, closedDBError(), given.
func storeError(ctx context.Context, closed error, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w: %w", op, problem.ErrStoreUnavailable, cerr)
		}
		return fmt.Errorf("%s: %w", op, cerr)
	}
	if isStoreUnavailable(err) || (closed != nil && errors.Is(err, closed)) {
		return fmt.Errorf("%s: %w: %w", op, problem.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isStoreUnavailable reports whether err means the database cannot be used right
// now, as opposed to a query that is wrong.
func isStoreUnavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	}
	if pqErr := pq.As(err); pqErr != nil {
		switch pqErr.Code.Class() {
		case "08", // connection exception
			"53", // insufficient resources (too many connections, disk full)
			"57", // operator intervention (shutdown, cannot connect now, statement timeout)
			"58": // system error (I/O)
			return true
		}
		return false
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		switch sqlErr.Code() & 0xff { // primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return true
		}
	}
	return false
}

// closedDBError returns the error database/sql reports for every call on a
// closed *sql.DB. The package does not export it; this obtains the value
// itself so that storeError can match it with errors.Is instead of
// by its text. A store whose DB was closed (shutdown) answers 503, not 500.
func closedDBError() error {
	db := sql.OpenDB(closedDBConnector{})
	db.Close()
	return db.PingContext(context.Background())
}

type closedDBConnector struct{}

func (closedDBConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("nop connector: not a database")
}
func (closedDBConnector) Driver() driver.Driver { return nil }

// IsUniqueViolation reports whether err is a unique-constraint violation, and
// for PostgreSQL the name of the violated constraint or index (SQLite does
// not say which in a structured form; callers then look the keys up).
func IsUniqueViolation(err error) (constraint string, ok bool) {
	if pqErr := pq.As(err, "23505"); pqErr != nil {
		return pqErr.Constraint, true
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) && (sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return "", true
	}
	return "", false
}

// IsForeignKeyViolation reports whether err is a foreign-key violation (a
// session for a user that does not exist).
func IsForeignKeyViolation(err error) bool {
	if pq.As(err, "23503") != nil {
		return true
	}
	var sqlErr *sqlite.Error
	return errors.As(err, &sqlErr) && sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
