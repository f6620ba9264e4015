package accounts

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/provider"
	"github.com/authgate/authgate/store"
)

// OAuth2Clients are the OAuth2 clients registered with `authgate client
// add`, in the database: every instance sees a new one at once, without a
// restart. It is a provider.ClientStore; the gateway asks it after the
// config's clients.
type OAuth2Clients struct {
	db  *store.DB
	now func() time.Time
}

var _ provider.ClientStore = (*OAuth2Clients)(nil)

// OAuth2Clients returns the service's registered clients.
func (s *Service) OAuth2Clients() *OAuth2Clients { return &OAuth2Clients{db: s.db, now: s.now} }

// ErrClientExists is an id that is already registered.
var ErrClientExists = errors.New("a client with this id is already registered")

// clientSecretCost is the bcrypt cost of a registered client's secret: the
// secret is 256 random bits, so the cost guards only a leaked table.
const clientSecretCost = 10

// Add registers cfg (defaults applied here) and returns the secret of a
// confidential client, generated here and shown only once; the database
// keeps its bcrypt hash. The password grant cannot be given this way: it
// stays a decision written in the config.
func (c *OAuth2Clients) Add(ctx context.Context, cfg provider.ClientConfig) (secret string, err error) {
	cfg.Secret = ""
	full := provider.Config{Clients: []provider.ClientConfig{cfg}}
	full.SetDefaults()
	cfg = full.Clients[0]
	if slices.Contains(cfg.Grants, provider.GrantPassword) {
		return "", errors.New("the password grant can only be given in config.yaml (oauth2.clients[].grants)")
	}
	if !cfg.Public {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		secret = hex.EncodeToString(b)
		hash, err := bcrypt.GenerateFromPassword([]byte(secret), clientSecretCost)
		if err != nil {
			return "", err
		}
		cfg.Secret = string(hash)
	}
	if _, err := provider.NewClient(cfg); err != nil {
		return "", err
	}
	settings, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	_, err = c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO oauth2_clients (id, settings, created_at) VALUES (?, ?, ?)`),
		cfg.ID, string(settings), storedTime(c.now()))
	if _, dup := store.IsUniqueViolation(err); dup {
		return "", fmt.Errorf("client %q: %w", cfg.ID, ErrClientExists)
	}
	if err != nil {
		return "", c.db.Err(ctx, "register client", err)
	}
	return secret, nil
}

// Client implements provider.ClientStore.
func (c *OAuth2Clients) Client(ctx context.Context, id string) (*provider.Client, error) {
	var settings string
	err := c.db.GetContext(ctx, &settings, c.db.Rebind(`SELECT settings FROM oauth2_clients WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, provider.ErrUnknownClient
	}
	if err != nil {
		return nil, c.db.Err(ctx, "look up client", err)
	}
	var cfg provider.ClientConfig
	if err := json.Unmarshal([]byte(settings), &cfg); err != nil {
		return nil, fmt.Errorf("client %q: stored settings: %w", id, err)
	}
	return provider.NewClient(cfg)
}

// List returns the registered clients' settings, secrets left out, by id.
func (c *OAuth2Clients) List(ctx context.Context) ([]provider.ClientConfig, error) {
	var rows []string
	if err := c.db.SelectContext(ctx, &rows, `SELECT settings FROM oauth2_clients ORDER BY id`); err != nil {
		return nil, c.db.Err(ctx, "list clients", err)
	}
	out := make([]provider.ClientConfig, 0, len(rows))
	for _, s := range rows {
		var cfg provider.ClientConfig
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return nil, fmt.Errorf("stored client settings: %w", err)
		}
		cfg.Secret = ""
		out = append(out, cfg)
	}
	return out, nil
}

// Remove unregisters client id. Tokens it holds stay valid until they
// expire or are revoked; it can get no new ones.
func (c *OAuth2Clients) Remove(ctx context.Context, id string) error {
	res, err := c.db.ExecContext(ctx, c.db.Rebind(`DELETE FROM oauth2_clients WHERE id = ?`), id)
	if err != nil {
		return c.db.Err(ctx, "remove client", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("client %q: %w", id, provider.ErrUnknownClient)
	}
	return nil
}
