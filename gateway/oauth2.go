package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/provider"
)

// newProvider builds the OAuth2/OIDC provider (oauth2.enabled) over the
// account service and the auth API's browser session. The loader has
// checked that tokens.algorithm is asymmetric and tokens.issuer an https
// URL; the key itself is the access tokens' one, so the JWKS already
// published verifies ID tokens too.
func newProvider(cfg *Config, acc *accounts.Service, auth *authn.Service, logger *slog.Logger) (*provider.Provider, error) {
	key, kid, ok := acc.Tokens().Signer()
	if !ok {
		return nil, fmt.Errorf("oauth2.enabled: needs tokens.algorithm RS256, ES256 or EdDSA (not %q)", cfg.Tokens.Algorithm)
	}
	static, err := provider.NewStaticClients(cfg.OAuth2.Clients)
	if err != nil {
		return nil, err
	}
	o := acc.OAuth2()
	return provider.New(cfg.OAuth2, provider.Options{
		Clients:    clientChain{static, acc.OAuth2Clients()},
		Issuer:     cfg.Tokens.Issuer,
		Prefix:     cfg.AuthAPI.Prefix,
		Key:        provider.SigningKey{Signer: key, Algorithm: cfg.Tokens.Algorithm, KeyID: kid},
		Stylesheet: cfg.AuthAPI.Prefix + "/login.css",
		Codes:      acc.OAuth2Codes(),
		Consents:   acc.OAuth2Consents(),
		Accounts:   o,
		Tokens:     o,
		Browser:    auth.OAuth2Browser(),
		ClientIP:   authn.ClientIP,
		Logger:     logger.With("component", "oauth2"),
	})
}

// mountProvider puts the provider's endpoints in front of the auth API:
// those under the prefix, and the well-known metadata paths, which
// isAuthPath then claims from the routes.
func (s *Server) mountProvider(p *provider.Provider) {
	mux := http.NewServeMux()
	h := s.auth.Wrap(p.Handler())
	for _, pat := range p.Patterns() {
		mux.Handle(pat, h)
		if strings.HasPrefix(pat, wellKnown) {
			s.wellKnown = append(s.wellKnown, pat)
		}
	}
	mux.Handle("/", s.authHandler)
	s.authHandler = mux
	s.auth.SetFormTarget(p.FormTarget)
}

const wellKnown = "/.well-known/"

// clientChain finds a client in the config first, then among those
// registered with `authgate client add`: an id in the config always means
// the config's client.
type clientChain []provider.ClientStore

func (c clientChain) Client(ctx context.Context, id string) (*provider.Client, error) {
	for _, s := range c {
		cl, err := s.Client(ctx, id)
		if !errors.Is(err, provider.ErrUnknownClient) {
			return cl, err
		}
	}
	return nil, provider.ErrUnknownClient
}

// isProviderPath reports whether path is one of the provider's well-known
// metadata documents.
func (s *Server) isProviderPath(path string) bool {
	if len(s.wellKnown) == 0 || !strings.HasPrefix(path, wellKnown) {
		return false
	}
	for _, p := range s.wellKnown {
		if p == path {
			return true
		}
	}
	return false
}
