package gateway

import (
	"context"
	"log/slog"

	"github.com/authgate/authgate/accounts"
)

// OpenAccounts opens the account side of authgate from a loaded config:
// the database, the token keys, the denylist and the account service over
// them (accounts.Open). The gateway serves it; `authgate user` runs its
// administrative changes through the same stores and denylist, so that
// they reach every running instance at once. logger nil logs nothing.
func OpenAccounts(ctx context.Context, cfg *Config, logger *slog.Logger) (*accounts.Service, error) {
	return accounts.Open(ctx, accounts.Sections{
		Database:      cfg.Database,
		Redis:         cfg.Redis,
		Tokens:        cfg.Tokens,
		Accounts:      cfg.Accounts,
		LoginLimit:    cfg.AuthAPI.LoginLimit,
		RegisterLimit: cfg.AuthAPI.RegisterLimit,
		AuthPrefix:    cfg.AuthAPI.Prefix,
		CookieName:    cfg.AuthAPI.CookieName,

		IdentityProviders: cfg.Federation,
	}, accounts.Options{Logger: logger, DataDir: cfg.DataDir()})
}
