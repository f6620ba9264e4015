package accounts

// The account side of sign-in through identity providers (issue 13):
// admitting a verified sign-in (sign in, link or create, by
// federation.Result.Admit), re-reading roles from the provider when a
// session refreshes, the provider's logout URL, and unlinking.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/federation"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// federationKeyLabel derives, from the signing key, the one secret behind
// the sign-in flow cookie and the provider tokens sealed at rest (the
// federation package separates those two uses with labels of its own).
// Every instance with the signing key derives it; replacing the signing
// key makes stored provider tokens unreadable, and the sessions holding
// them end at their next refresh.
const federationKeyLabel = "authgate identity providers v1"

// openFederation builds the identity providers of cfg, when there are any.
func (s *Service) openFederation(cfg Sections) error {
	if len(cfg.IdentityProviders.IdentityProviders) == 0 {
		return nil
	}
	key, err := s.tokens.DerivedKey(federationKeyLabel)
	if err != nil {
		return err
	}
	if s.sealer, err = federation.NewTokenCipher(key); err != nil {
		return err
	}
	s.fed, err = federation.New(cfg.IdentityProviders, federation.Options{
		Secret:     key,
		Prefix:     cfg.AuthPrefix,
		CookieName: cfg.CookieName + "-federation",
		Logger:     s.logger,
	})
	if err != nil {
		return err
	}
	for _, p := range s.fed.Providers() {
		s.recheck[p.Name] = p.Recheck
		s.byIssuer[p.Issuer] = append(s.byIssuer[p.Issuer], p.Name)
	}
	return nil
}

// Federation is the configured identity providers, nil when there are
// none.
func (s *Service) Federation() *federation.Federation { return s.fed }

// SignInError wraps an error of the federation package in the one of
// internal/problem that answers it, keeping the cause for the log.
func SignInError(err error) error {
	var target error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, federation.ErrUnknownProvider):
		target = problem.ErrNotFound
	case errors.Is(err, federation.ErrFlowInvalid), errors.Is(err, federation.ErrSealed):
		target = problem.ErrSignInFlow
	case errors.Is(err, federation.ErrProviderDenied), errors.Is(err, federation.ErrCodeRejected),
		errors.Is(err, federation.ErrIDTokenInvalid), errors.Is(err, federation.ErrRevoked):
		target = problem.ErrSignInRefused
	case errors.Is(err, federation.ErrNotAllowed), errors.Is(err, federation.ErrEmailNotVerified),
		errors.Is(err, federation.ErrSignupClosed):
		target = problem.ErrSignInForbidden
	case errors.Is(err, federation.ErrEmailTaken):
		target = problem.ErrEmailTaken
	case errors.Is(err, federation.ErrProviderUnavailable):
		target = problem.ErrIdentityProviderUnavailable
	default:
		return err
	}
	return fmt.Errorf("%w: %w", target, err)
}

// FederatedLogin admits a sign-in the provider verified (Callback's
// Result): the linked user signs in; or, by Result.Admit's rule, the
// identity is linked to the local user with its verified address (a
// trusted_email provider), or a user is created; or the sign-in is
// refused. When the provider manages roles, they replace the user's. The
// session it opens keeps the provider's refresh token (and, for logout,
// its ID token) sealed beside it.
func (s *Service) FederatedLogin(ctx context.Context, res *federation.Result) (*TokenPair, error) {
	if s.fed == nil {
		return nil, problem.ErrNotFound
	}
	linked, err := s.identityBySubject(ctx, res.Issuer, res.Subject)
	if err != nil {
		return nil, err
	}
	var owner int64
	if linked == nil && res.Email != "" {
		if owner, err = s.userIDByEmail(ctx, res.Email); err != nil {
			return nil, err
		}
	}
	adm, err := res.Admit(linked != nil, owner != 0)
	if err != nil {
		s.logger.Info("sign-in refused", "provider", res.Provider, "error", err)
		return nil, SignInError(err)
	}
	var userID, identityID int64
	switch adm {
	case federation.AdmitSignIn:
		userID, identityID = linked.UserID, linked.ID
		_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE identities SET last_login_at = ?, provider = ? WHERE id = ?`),
			storedTime(s.now()), res.Provider, identityID)
		err = s.db.Err(ctx, "record sign-in", err)
	case federation.AdmitLink:
		userID = owner
		identityID, err = s.linkIdentity(ctx, owner, res)
		s.logger.Info("identity linked by verified email", "user_id", owner, "provider", res.Provider)
	case federation.AdmitCreate:
		userID, identityID, err = s.createFederatedUser(ctx, res)
	}
	if err != nil {
		return nil, err
	}
	if res.ManagesRoles {
		if err := s.setRolesByID(ctx, userID, res.Roles); err != nil {
			return nil, err
		}
	}
	var access accessToken
	_, refresh, refreshExp, err := s.sessions.CreateLinked(ctx, userID,
		func(current *User, sid string) error {
			if !current.IsActive {
				return problem.ErrUserDisabled
			}
			access, err = s.mint(current, sid)
			return err
		},
		func(ctx context.Context, tx *sqlx.Tx, sid string) error {
			rt, err := s.seal(res.RefreshToken, sid, res.Issuer, res.Subject, "refresh")
			if err != nil {
				return err
			}
			it, err := s.seal(res.IDToken, sid, res.Issuer, res.Subject, "id")
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO identity_sessions (session_id, identity_id, refresh_token, id_token)
				VALUES (?, ?, ?, ?)`), sid, identityID, rt, it)
			return s.db.Err(ctx, "keep provider grant", err)
		})
	if err != nil {
		return nil, err
	}
	return s.pair(access, refresh, refreshExp), nil
}

// recheckProvider asks the provider again, before the refresh token of
// session sid (found by refreshToken) is rotated, when that session began
// at a provider: its roles replace the user's, its new refresh token is
// stored. The provider refusing ends the session (denylisted first) with
// problem.ErrInvalidRefreshToken; a provider that cannot be asked is
// problem.ErrIdentityProviderUnavailable, and nothing changes, so the
// client can retry with the same token. A token that is not a live one
// of a provider session is left for Rotate to answer.
func (s *Service) recheckProvider(ctx context.Context, refreshToken, boundSID string) error {
	sid, _, err := s.sessions.Lookup(ctx, refreshToken)
	if err != nil || boundSID != "" && sid != boundSID {
		return nil // Rotate refuses it, with the same error
	}
	g, err := s.sessionGrant(ctx, sid)
	if err != nil || g == nil {
		return err
	}
	name := s.providerName(g)
	var roles []string
	var next string
	rt, err := s.open(g.RefreshToken, sid, g.Issuer, g.Subject, "refresh")
	switch {
	case name == "":
		err = fmt.Errorf("%w: no identity provider with issuer %s is configured any more", federation.ErrRevoked, g.Issuer)
	case err != nil:
		err = fmt.Errorf("%w: the stored provider token: %w", federation.ErrRevoked, err)
	default:
		roles, next, err = s.fed.RefreshRoles(ctx, name, g.Subject, rt)
		if errors.Is(err, federation.ErrNoRefreshToken) && !s.recheck[name] {
			return nil // nothing to re-read: the user keeps the local roles
		}
	}
	switch {
	case errors.Is(err, federation.ErrProviderUnavailable):
		s.logger.Warn("identity provider unavailable at refresh; session kept", "provider", name, "error", err)
		return SignInError(err)
	case err != nil:
		s.logger.Info("identity provider no longer vouches for the user: session ended", "provider", name,
			"user_id", g.UserID, "session", sid, "error", err)
		if eerr := s.endSession(ctx, sid); eerr != nil {
			return eerr
		}
		return fmt.Errorf("%w: %w", problem.ErrInvalidRefreshToken, err)
	}
	if next != rt {
		sealed, err := s.seal(next, sid, g.Issuer, g.Subject, "refresh")
		if err != nil {
			return err
		}
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE identity_sessions SET refresh_token = ? WHERE session_id = ?`),
			sealed, sid); err != nil {
			return s.db.Err(ctx, "keep provider grant", err)
		}
	}
	if roles != nil {
		return s.setRolesByID(ctx, g.UserID, roles)
	}
	return nil
}

// providerName is the configured provider of a grant: the one it was
// linked through, or after a rename the one with its issuer; "" when none
// is configured any more.
func (s *Service) providerName(g *grant) string {
	names := s.byIssuer[g.Issuer]
	for _, n := range names {
		if n == g.Provider {
			return n
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return ""
}

// endSession ends session sid: denylisted first, then revoked.
func (s *Service) endSession(ctx context.Context, sid string) error {
	derr := s.deny.Revoke(ctx, denylist.Revocation{SessionID: sid, Expires: s.now().Add(s.tokens.AccessTTL())})
	_, serr := s.sessions.Revoke(ctx, sid)
	if errors.Is(serr, problem.ErrNotFound) {
		serr = nil
	}
	return errors.Join(derr, serr)
}

// EndSessionURL is where to send the browser after logging session sid
// out, to end the session at its provider too (end_session: true and an
// end_session_endpoint advertised), or "". Errors are logged, not
// returned: the logout here has happened either way.
func (s *Service) EndSessionURL(ctx context.Context, sid, postLogoutRedirect string) string {
	if s.fed == nil || sid == "" {
		return ""
	}
	g, err := s.sessionGrant(ctx, sid)
	if err != nil || g == nil {
		return ""
	}
	name := s.providerName(g)
	if name == "" {
		return ""
	}
	idToken, err := s.open(g.IDToken, sid, g.Issuer, g.Subject, "id")
	if err != nil {
		idToken = "" // the provider then asks the user to confirm
	}
	u, err := s.fed.EndSessionURL(ctx, name, idToken, postLogoutRedirect)
	if err != nil {
		s.logger.Warn("no provider logout", "provider", name, "error", err)
		return ""
	}
	return u
}

// Unlink removes identity id from the user called username (`authgate
// user unlink`), ending the sessions that began through it.
func (s *Service) Unlink(ctx context.Context, username string, id int64) error {
	u, err := s.users.ByUsername(ctx, username)
	if err != nil {
		return err
	}
	return s.unlink(ctx, u.ID, id)
}

// MyIdentities lists the identities linked to the user of a request.
func (s *Service) MyIdentities(ctx context.Context, who *identity.Identity) ([]Identity, error) {
	uid, err := strconv.ParseInt(who.UserID, 10, 64)
	if err != nil {
		return nil, problem.ErrInvalidToken
	}
	return s.identitiesOf(ctx, uid)
}

// UnlinkMine removes identity id from the user of a request. The last
// identity of a user who has no password is kept
// (problem.ErrLastSignInMethod): removing it would leave no way to sign in.
func (s *Service) UnlinkMine(ctx context.Context, who *identity.Identity, id int64) error {
	uid, err := strconv.ParseInt(who.UserID, 10, 64)
	if err != nil {
		return problem.ErrInvalidToken
	}
	var others struct {
		Identities int  `db:"identities"`
		Password   bool `db:"password"`
	}
	err = s.db.QueryRowxContext(ctx, s.db.Rebind(`SELECT
		(SELECT COUNT(*) FROM identities WHERE user_id = u.id AND id <> ?) AS identities,
		u.hashed_password <> ? AS password
		FROM users u WHERE u.id = ?`), id, noPassword, uid).StructScan(&others)
	if err != nil {
		return s.db.Err(ctx, "unlink identity", err)
	}
	if others.Identities == 0 && !others.Password {
		return problem.ErrLastSignInMethod
	}
	return s.unlink(ctx, uid, id)
}
