package gateway

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/authgate/authgate/store"
	"golang.org/x/crypto/acme/autocert"
)

// dbCertCache is an autocert.Cache kept in the account database
// (tls.acme.cache: database), so several instances behind one load balancer
// share one account key and one certificate per host instead of each
// ordering its own and hitting the CA's rate limits.
type dbCertCache struct {
	db *store.DB
}

var _ autocert.Cache = (*dbCertCache)(nil)

func (c *dbCertCache) Get(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := c.db.GetContext(ctx, &data, c.db.Rebind(`SELECT data FROM acme_cache WHERE key = ?`), key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, autocert.ErrCacheMiss
	}
	return data, err
}

func (c *dbCertCache) Put(ctx context.Context, key string, data []byte) error {
	_, err := c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO acme_cache (key, data, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`),
		key, data, time.Now().UTC())
	return err
}

func (c *dbCertCache) Delete(ctx context.Context, key string) error {
	_, err := c.db.ExecContext(ctx, c.db.Rebind(`DELETE FROM acme_cache WHERE key = ?`), key)
	return err
}
