package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/authgate/authgate/internal/problem"
	"github.com/lib/pq"
)

func TestStoreError(t *testing.T) {
	closed := closedDBError()
	if closed == nil {
		t.Fatal("closedDBError() = nil; want database/sql's closed-database error")
	}
	tests := []struct {
		name            string
		err             error
		wantUnavailable bool
	}{
		{name: "ok-refused", err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, wantUnavailable: true},
		{name: "ok-bad-conn", err: fmt.Errorf("query: %w", driver.ErrBadConn), wantUnavailable: true},
		{name: "ok-conn-done", err: sql.ErrConnDone, wantUnavailable: true},
		{name: "ok-deadline", err: context.DeadlineExceeded, wantUnavailable: true},
		{name: "ok-closed-db", err: closed, wantUnavailable: true},
		{name: "ok-pq-admin-shutdown", err: &pq.Error{Code: "57P01"}, wantUnavailable: true},
		{name: "ok-pq-connection-failure", err: &pq.Error{Code: "08006"}, wantUnavailable: true},
		{name: "ok-pq-too-many-connections", err: &pq.Error{Code: "53300"}, wantUnavailable: true},
		{name: "fail-pq-syntax", err: &pq.Error{Code: "42601"}},
		{name: "fail-pq-unique", err: &pq.Error{Code: "23505"}},
		{name: "fail-no-rows", err: sql.ErrNoRows},
		{name: "fail-other", err: errors.New("something else")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := storeError(context.Background(), closed, "op", tt.err)
			if errors.Is(got, problem.ErrStoreUnavailable) != tt.wantUnavailable {
				t.Errorf("storeError(%v) = %v; want problem.ErrStoreUnavailable: %v", tt.err, got, tt.wantUnavailable)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("storeError(%v) = %v; want it to wrap the cause", tt.err, got)
			}
		})
	}
	if storeError(context.Background(), closed, "op", nil) != nil {
		t.Error("storeError(nil) != nil")
	}
}
