package accounts

// Refresh reuse grace (tokens.refresh_reuse_grace, issue 12). A client
// that sends its refresh token twice — two tabs refreshing at once, a
// request retried after a lost answer, a client of the FastAPI original,
// where a refresh token stayed valid for days — would have its session
// revoked by reuse detection on the second use. Within the grace interval
// after a rotation, the token just rotated returns the same successor
// instead, as long as that successor has not been used itself. Past the
// interval, or once the successor was used, reuse detection applies as
// before. Default 0: no grace, nothing here runs.
//
// The successor is stored encrypted (AES-256-GCM) under a key derived from
// the token it replaced, which the database holds only as a SHA-256 hash:
// only someone presenting the old token can read the new one.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

func graceKey(oldToken string) []byte {
	sum := sha256.Sum256([]byte("authgate-refresh-grace-v1\x00" + oldToken))
	return sum[:]
}

// sealSuccessor records newToken, sealed under oldToken, on oldToken's row.
func (s *Sessions) sealSuccessor(ctx context.Context, tx *sqlx.Tx, oldHash, oldToken, newToken string) error {
	block, err := aes.NewCipher(graceKey(oldToken))
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := s.rand.Read(nonce); err != nil {
		return fmt.Errorf("sessions: random: %w", err)
	}
	sealed := base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(newToken), []byte(oldHash)))
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE refresh_tokens SET successor_sealed = ? WHERE token_hash = ?`), sealed, oldHash); err != nil {
		return s.err(ctx, "rotate refresh token", err)
	}
	return nil
}

// withinGrace returns the rotation that already happened when row (of
// oldToken, used) was rotated less than the grace interval before now and
// its successor is still unused; ok is false otherwise.
func (s *Sessions) withinGrace(ctx context.Context, tx *sqlx.Tx, row refreshRow, oldHash, oldToken string, now time.Time) (rot Rotation, ok bool, err error) {
	if !row.UsedAt.Valid || !row.SuccessorSealed.Valid || now.Sub(row.UsedAt.Time.UTC()) > s.grace {
		return Rotation{}, false, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(row.SuccessorSealed.String)
	if err != nil {
		return Rotation{}, false, nil
	}
	block, err := aes.NewCipher(graceKey(oldToken))
	if err != nil {
		return Rotation{}, false, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Rotation{}, false, err
	}
	if len(raw) < aead.NonceSize() {
		return Rotation{}, false, nil
	}
	succ, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(oldHash))
	if err != nil {
		return Rotation{}, false, nil
	}
	var unused int
	err = tx.GetContext(ctx, &unused, s.db.Rebind(`SELECT COUNT(*) FROM refresh_tokens
		WHERE token_hash = ? AND session_id = ? AND used_at IS NULL`), refreshTokenHash(string(succ)), row.SessionID)
	if err != nil {
		return Rotation{}, false, s.err(ctx, "rotate refresh token", err)
	}
	if unused != 1 {
		return Rotation{}, false, nil
	}
	return Rotation{SessionID: row.SessionID, UserID: row.UserID, RefreshToken: string(succ),
		Created: row.SessionCreated.UTC(), Expires: row.SessionExpires.UTC()}, true, nil
}
