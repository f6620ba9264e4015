package accounts

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/provider"
	"github.com/authgate/authgate/store"
)

// The provider's authorization codes and consents in the database
// (migration 0050), so that every instance shares them: the browser's
// redirect may reach one instance and the client's token request another.

// codeRetain is how long a code is kept after it expired: a second use
// within it still revokes what the first produced (RFC 6749 §4.1.2).
const codeRetain = 10 * time.Minute

// OAuth2Codes is provider.CodeStore over the oauth2_codes table.
type OAuth2Codes struct {
	db  *store.DB
	now func() time.Time
}

var _ provider.CodeStore = (*OAuth2Codes)(nil)

// OAuth2Codes returns the service's code store.
func (s *Service) OAuth2Codes() *OAuth2Codes { return &OAuth2Codes{db: s.db, now: s.now} }

type codeRow struct {
	ClientID    string    `db:"client_id"`
	RedirectURI string    `db:"redirect_uri"`
	Challenge   string    `db:"challenge"`
	Nonce       string    `db:"nonce"`
	Scopes      string    `db:"scopes"`
	UserID      string    `db:"user_id"`
	AuthTime    time.Time `db:"auth_time"`
	Expires     time.Time `db:"expires_at"`
	Redeemed    bool      `db:"redeemed"`
	Reused      bool      `db:"reused"`
	SessionID   string    `db:"session_id"`
}

func (r *codeRow) code() *provider.AuthCode {
	return &provider.AuthCode{
		ClientID: r.ClientID, RedirectURI: r.RedirectURI, Challenge: r.Challenge, Nonce: r.Nonce,
		Scopes: strings.Fields(r.Scopes), UserID: r.UserID, AuthTime: r.AuthTime.UTC(),
		Expires: r.Expires.UTC(), SessionID: r.SessionID,
	}
}

// Save implements provider.CodeStore; it also deletes codes past their
// retention.
func (c *OAuth2Codes) Save(ctx context.Context, hash string, code provider.AuthCode) error {
	if _, err := c.db.ExecContext(ctx, c.db.Rebind(`DELETE FROM oauth2_codes WHERE expires_at < ?`),
		storedTime(c.now().Add(-codeRetain))); err != nil {
		return c.db.Err(ctx, "save authorization code", err)
	}
	_, err := c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO oauth2_codes
		(code_hash, client_id, redirect_uri, challenge, nonce, scopes, user_id, auth_time, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		hash, code.ClientID, code.RedirectURI, code.Challenge, code.Nonce, strings.Join(code.Scopes, " "),
		code.UserID, storedTime(code.AuthTime), storedTime(code.Expires))
	if err != nil {
		return c.db.Err(ctx, "save authorization code", err)
	}
	return nil
}

// Redeem implements provider.CodeStore: one conditional UPDATE decides
// which of two concurrent redemptions is the first.
func (c *OAuth2Codes) Redeem(ctx context.Context, hash string) (*provider.AuthCode, error) {
	res, err := c.db.ExecContext(ctx, c.db.Rebind(`UPDATE oauth2_codes SET redeemed = TRUE WHERE code_hash = ? AND NOT redeemed`), hash)
	if err != nil {
		return nil, c.db.Err(ctx, "redeem authorization code", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, c.db.Err(ctx, "redeem authorization code", err)
	}
	if n == 0 {
		// Unknown, or redeemed before: remember the reuse for Issued.
		if _, err := c.db.ExecContext(ctx, c.db.Rebind(`UPDATE oauth2_codes SET reused = TRUE WHERE code_hash = ?`), hash); err != nil {
			return nil, c.db.Err(ctx, "redeem authorization code", err)
		}
	}
	var row codeRow
	err = c.db.QueryRowxContext(ctx, c.db.Rebind(`SELECT client_id, redirect_uri, challenge, nonce, scopes, user_id,
		auth_time, expires_at, redeemed, reused, session_id FROM oauth2_codes WHERE code_hash = ?`), hash).StructScan(&row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, provider.ErrCodeNotFound
	}
	if err != nil {
		return nil, c.db.Err(ctx, "redeem authorization code", err)
	}
	if n == 0 {
		return row.code(), provider.ErrCodeReused
	}
	return row.code(), nil
}

// Issued implements provider.CodeStore.
func (c *OAuth2Codes) Issued(ctx context.Context, hash, sessionID string) error {
	var reused bool
	err := c.db.GetContext(ctx, &reused, c.db.Rebind(`UPDATE oauth2_codes SET session_id = ? WHERE code_hash = ? RETURNING reused`),
		sessionID, hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return provider.ErrCodeNotFound
	case err != nil:
		return c.db.Err(ctx, "record authorization code's session", err)
	case reused:
		return provider.ErrCodeReused
	}
	return nil
}

// OAuth2Consents is provider.ConsentStore over the oauth2_consents table.
type OAuth2Consents struct {
	db  *store.DB
	now func() time.Time
}

var _ provider.ConsentStore = (*OAuth2Consents)(nil)

// OAuth2Consents returns the service's consent store.
func (s *Service) OAuth2Consents() *OAuth2Consents { return &OAuth2Consents{db: s.db, now: s.now} }

// Consented implements provider.ConsentStore.
func (c *OAuth2Consents) Consented(ctx context.Context, userID, clientID string) ([]string, error) {
	var scopes string
	err := c.db.GetContext(ctx, &scopes, c.db.Rebind(`SELECT scopes FROM oauth2_consents WHERE user_id = ? AND client_id = ?`),
		userID, clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, c.db.Err(ctx, "read consent", err)
	}
	return strings.Fields(scopes), nil
}

// Consent implements provider.ConsentStore. Two consents at once may each
// add their scopes to what they read; the loser of the race re-reads and
// merges again.
func (c *OAuth2Consents) Consent(ctx context.Context, userID, clientID string, scopes []string) error {
	for range 3 {
		have, err := c.Consented(ctx, userID, clientID)
		if err != nil {
			return err
		}
		merged := slices.Clone(have)
		for _, s := range scopes {
			if !slices.Contains(merged, s) {
				merged = append(merged, s)
			}
		}
		now := storedTime(c.now())
		var res sql.Result
		if have == nil {
			res, err = c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO oauth2_consents (user_id, client_id, scopes, updated_at)
				VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`), userID, clientID, strings.Join(merged, " "), now)
		} else {
			res, err = c.db.ExecContext(ctx, c.db.Rebind(`UPDATE oauth2_consents SET scopes = ?, updated_at = ?
				WHERE user_id = ? AND client_id = ? AND scopes = ?`), strings.Join(merged, " "), now, userID, clientID, strings.Join(have, " "))
		}
		if err != nil {
			return c.db.Err(ctx, "record consent", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return nil
		}
	}
	return errors.New("record consent: concurrent changes kept winning")
}
