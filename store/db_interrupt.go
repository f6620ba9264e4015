package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/lib/pq"
)

// lib/pq honours a context only by sending PostgreSQL a cancel request on
// a second connection; the goroutine running the query stays blocked in
// its socket read until the server answers. A server that does not answer
// at all — a hung host, a frozen process, a network that drops packets —
// therefore holds the caller for as long as it stays silent, whatever its
// context says. pgConnector closes that gap: when the context of a query,
// exec, transaction or ping has ended and the call is still blocked
// interruptGrace later, the connection's socket gets a deadline in the
// past, the blocked read returns, and the connection is discarded
// (IsValid, ResetSession). A connect is interrupted as soon as its context
// ends: nothing can have been written yet.
//
// The grace keeps outcomes certain with a server that does answer: lib/pq's
// cancel request arrives, and the statement either is aborted (an error:
// nothing changed) or had completed (its answer is read: success). Only a
// silent server leaves a write's outcome unknown — which no client can
// avoid — and then the caller gets an error after the grace instead of
// waiting for ever.
//
// Dials that lib/pq makes outside any of those calls — the cancel request
// itself — get a fixed deadline (cancelDialTimeout), so they cannot hang
// either.

// interruptGrace is how long a call may stay blocked after its context
// ended before its socket is interrupted.
const interruptGrace = time.Second

// cancelDialTimeout bounds a cancel-request connection, which lib/pq
// keeps open until the server closes it.
const cancelDialTimeout = 10 * time.Second

// pgConnector is a driver.Connector for lib/pq whose connections a
// context can interrupt.
type pgConnector struct {
	base *pq.Connector
}

func newPGConnector(dsn string) (*pgConnector, error) {
	base, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	base.Dialer(pgDialer{})
	return &pgConnector{base: base}, nil
}

var _ driver.Connector = (*pgConnector)(nil)

// pgSocketKey carries, in the context of a Connect, the slot where the
// dialer leaves the connection's socket.
type pgSocketKey struct{}

func (c *pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	sock := new(pgSocket)
	stop := context.AfterFunc(ctx, sock.interrupt)
	conn, err := c.base.Connect(context.WithValue(ctx, pgSocketKey{}, sock))
	if !stop() {
		// ctx ended while connecting: a connection may have been made,
		// but its socket is already interrupted.
		if err == nil {
			conn.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &pgConn{Conn: conn, sock: sock}, nil
}

func (c *pgConnector) Driver() driver.Driver { return c.base.Driver() }

// pgDialer is lib/pq's Dialer with the socket registered for interruption.
type pgDialer struct{}

func (pgDialer) Dial(network, address string) (net.Conn, error) {
	return pgDialer{}.DialContext(context.Background(), network, address)
}

func (pgDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return pgDialer{}.DialContext(ctx, network, address)
}

func (pgDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if sock, ok := ctx.Value(pgSocketKey{}).(*pgSocket); ok {
		sock.set(c)
	} else {
		c.SetDeadline(time.Now().Add(cancelDialTimeout))
	}
	return c, nil
}

// pgSocket is a connection's socket and whether a context has
// interrupted it.
type pgSocket struct {
	mu          sync.Mutex
	conn        net.Conn
	interrupted bool
}

// interruptedAt is a deadline in the past: every pending and future read
// and write on the socket fails at once.
var interruptedAt = time.Unix(1, 0)

func (s *pgSocket) set(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
	if s.interrupted {
		c.SetDeadline(interruptedAt)
	}
}

func (s *pgSocket) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interrupted = true
	if s.conn != nil {
		s.conn.SetDeadline(interruptedAt)
	}
}

func (s *pgSocket) broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interrupted
}

// pgConn is a lib/pq connection whose context-taking calls interrupt its
// socket when their context ends first. It implements the interfaces
// lib/pq's connection does, so database/sql treats it the same.
type pgConn struct {
	driver.Conn
	sock *pgSocket
}

var (
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.ConnPrepareContext = (*pgConn)(nil)
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.Pinger             = (*pgConn)(nil)
	_ driver.SessionResetter    = (*pgConn)(nil)
	_ driver.Validator          = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
)

// errNotSupported is returned should lib/pq stop implementing one of the
// interfaces pgConn forwards to.
var errNotSupported = errors.New("database: the PostgreSQL driver does not support this call")

// guard arranges for the socket to be interrupted interruptGrace after
// ctx ends, until the returned function is called.
func (c *pgConn) guard(ctx context.Context) func() {
	g := &pgGuard{sock: c.sock}
	g.stopCtx = context.AfterFunc(ctx, g.arm)
	return g.stop
}

// pgGuard is one call's watch on its context.
type pgGuard struct {
	sock    *pgSocket
	stopCtx func() bool

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func (g *pgGuard) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.timer = time.AfterFunc(interruptGrace, g.sock.interrupt)
	}
}

func (g *pgGuard) stop() {
	g.stopCtx()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	if g.timer != nil {
		g.timer.Stop()
	}
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, errNotSupported
	}
	stop := c.guard(ctx)
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		stop()
		return nil, err
	}
	// Rows are read from the socket until Close: keep the guard till then.
	return &pgRows{Rows: rows, stop: stop}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, errNotSupported
	}
	defer c.guard(ctx)()
	return e.ExecContext(ctx, query, args)
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	p, ok := c.Conn.(driver.ConnPrepareContext)
	if !ok {
		return nil, errNotSupported
	}
	defer c.guard(ctx)()
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &pgStmt{Stmt: st, conn: c}, nil
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, errNotSupported
	}
	// ctx is the transaction's: it may interrupt the socket until Commit
	// or Rollback, which take no context of their own.
	stop := c.guard(ctx)
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		stop()
		return nil, err
	}
	return &pgTx{Tx: tx, stop: stop}, nil
}

// pgTx releases the transaction's guard when it ends.
type pgTx struct {
	driver.Tx
	stop func()
}

func (t *pgTx) Commit() error {
	defer t.stop()
	return t.Tx.Commit()
}

func (t *pgTx) Rollback() error {
	defer t.stop()
	return t.Tx.Rollback()
}

func (c *pgConn) Ping(ctx context.Context) error {
	p, ok := c.Conn.(driver.Pinger)
	if !ok {
		return errNotSupported
	}
	defer c.guard(ctx)()
	return p.Ping(ctx)
}

// ResetSession and IsValid retire an interrupted connection: its protocol
// state is unknown and its socket dead.
func (c *pgConn) ResetSession(ctx context.Context) error {
	if c.sock.broken() {
		return driver.ErrBadConn
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *pgConn) IsValid() bool {
	if c.sock.broken() {
		return false
	}
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := c.Conn.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// pgStmt is a prepared statement of a pgConn.
type pgStmt struct {
	driver.Stmt
	conn *pgConn
}

func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errNotSupported
	}
	defer s.conn.guard(ctx)()
	return e.ExecContext(ctx, args)
}

func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errNotSupported
	}
	stop := s.conn.guard(ctx)
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		stop()
		return nil, err
	}
	return &pgRows{Rows: rows, stop: stop}, nil
}

// pgRows releases its connection's guard when closed, and forwards the
// optional column-type interfaces of lib/pq's rows.
type pgRows struct {
	driver.Rows
	stop func()
}

func (r *pgRows) Close() error {
	err := r.Rows.Close()
	r.stop()
	return err
}

func (r *pgRows) HasNextResultSet() bool {
	n, ok := r.Rows.(driver.RowsNextResultSet)
	return ok && n.HasNextResultSet()
}

func (r *pgRows) NextResultSet() error {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return errNotSupported
}

func (r *pgRows) ColumnTypeScanType(index int) reflect.Type {
	if c, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}

func (r *pgRows) ColumnTypeDatabaseTypeName(index int) string {
	if c, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *pgRows) ColumnTypeLength(index int) (int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *pgRows) ColumnTypePrecisionScale(index int) (int64, int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}
