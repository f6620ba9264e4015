package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

var _ idp = (*githubIdP)(nil)

// githubIdP is GitHub (or GitHub Enterprise Server): OAuth2 without OpenID
// Connect, so the user comes from the REST API with the access token
// instead of from an ID token. It builds the same claims an OIDC provider
// would (sub, email, email_verified, preferred_username, name) plus orgs
// and teams, so restrictions and role mapping are shared.
//
// Only GitHub Apps with expiring user tokens issue refresh tokens; an OAuth
// App's token never expires and comes without one (see RefreshRoles,
// ErrNoRefreshToken).
type githubIdP struct {
	cfg   *ProviderConfig
	f     *Federation
	oauth *oauth2.Config
	api   *url.URL
}

// githubMaxPages bounds the pages of orgs or teams read (100 each): a user
// in hundreds of teams keeps them all, an endless Link chain does not hold
// a sign-in forever.
const githubMaxPages = 20

func newGitHub(cfg *ProviderConfig, f *Federation) *githubIdP {
	api, _ := url.Parse(strings.TrimSuffix(cfg.APIURL, "/")) // validated
	return &githubIdP{
		cfg: cfg,
		f:   f,
		api: api,
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     oauth2.Endpoint{AuthURL: cfg.AuthorizationURL, TokenURL: cfg.TokenURL},
			Scopes:       cfg.Scopes,
		},
	}
}

func (g *githubIdP) authCodeURL(_ context.Context, fl *flowState) (string, error) {
	opts := authParams(g.cfg)
	opts = append(opts,
		oauth2.SetAuthURLParam("redirect_uri", fl.RedirectURI),
		oauth2.S256ChallengeOption(fl.Verifier))
	return g.oauth.AuthCodeURL(fl.State, opts...), nil
}

func (g *githubIdP) redeem(ctx context.Context, code string, fl *flowState) (*assertion, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.f.client)
	tok, err := g.oauth.Exchange(ctx, code,
		oauth2.VerifierOption(fl.Verifier),
		oauth2.SetAuthURLParam("redirect_uri", fl.RedirectURI))
	if err != nil {
		return nil, exchangeError(g.cfg.Name, err)
	}
	return g.user(ctx, tok)
}

func (g *githubIdP) refresh(ctx context.Context, subject, refreshToken string) (*assertion, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.f.client)
	tok, err := g.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, refreshError(g.cfg.Name, err)
	}
	a, err := g.user(ctx, tok)
	if err != nil {
		return nil, err
	}
	if a.subject != subject {
		return nil, fmt.Errorf("%w: %w: %s: the refreshed token is another user's", ErrRevoked, ErrIDTokenInvalid, g.cfg.Name)
	}
	return a, nil
}

func (g *githubIdP) endSessionEndpoint(context.Context) (string, error) { return "", nil }

// user reads who the token belongs to.
func (g *githubIdP) user(ctx context.Context, tok *oauth2.Token) (*assertion, error) {
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if _, err := g.get(ctx, tok, g.endpoint("/user"), &u); err != nil {
		return nil, err
	}
	if u.ID <= 0 || u.Login == "" {
		return nil, fmt.Errorf("%w: %s: /user has no id or login", ErrProviderUnavailable, g.cfg.Name)
	}
	claims := map[string]any{
		"sub":                strconv.FormatInt(u.ID, 10),
		"login":              u.Login,
		"preferred_username": u.Login,
		"name":               u.Name,
	}
	// GitHub's /user email is whatever the user made public, verified or
	// not; /user/emails says which address is primary and verified.
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if _, err := g.get(ctx, tok, g.endpoint("/user/emails"), &emails); err != nil {
		return nil, err
	}
	for _, e := range emails {
		if e.Primary {
			claims["email"], claims["email_verified"] = e.Email, e.Verified
		}
	}
	if g.cfg.needsOrgs() {
		var orgs []any
		err := g.pages(ctx, tok, "/user/orgs", func(raw json.RawMessage) error {
			var page []struct {
				Login string `json:"login"`
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				return err
			}
			for _, o := range page {
				orgs = append(orgs, strings.ToLower(o.Login))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		claims[claimOrgs] = orgs
	}
	if g.cfg.needsTeams() {
		var teams []any
		err := g.pages(ctx, tok, "/user/teams", func(raw json.RawMessage) error {
			var page []struct {
				Slug string `json:"slug"`
				Org  struct {
					Login string `json:"login"`
				} `json:"organization"`
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				return err
			}
			for _, t := range page {
				teams = append(teams, strings.ToLower(t.Org.Login+"/"+t.Slug))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		claims[claimTeams] = teams
	}
	return &assertion{
		issuer:       g.cfg.Issuer,
		subject:      claims["sub"].(string),
		claims:       claims,
		accessToken:  tok.AccessToken,
		refreshToken: tok.RefreshToken,
		expiry:       tok.Expiry,
	}, nil
}

func (g *githubIdP) endpoint(p string) *url.URL {
	u := *g.api
	u.Path += p
	return &u
}

// pages reads a paginated list, following Link rel="next" (GitHub REST
// pagination) while it stays on the API's own origin: the token is never
// sent anywhere else, whatever a Link header says.
func (g *githubIdP) pages(ctx context.Context, tok *oauth2.Token, p string, each func(json.RawMessage) error) error {
	next := g.endpoint(p)
	next.RawQuery = "per_page=100"
	for i := 0; next != nil; i++ {
		if i == githubMaxPages {
			return fmt.Errorf("%w: %s: %s has more than %d pages", ErrProviderUnavailable, g.cfg.Name, p, githubMaxPages)
		}
		var raw json.RawMessage
		link, err := g.get(ctx, tok, next, &raw)
		if err != nil {
			return err
		}
		if err := each(raw); err != nil {
			return fmt.Errorf("%w: %s: %s: %v", ErrProviderUnavailable, g.cfg.Name, p, err)
		}
		next = nil
		if n := nextLink(link); n != "" {
			u, err := url.Parse(n)
			if err != nil || u.Scheme != g.api.Scheme || u.Host != g.api.Host {
				return fmt.Errorf("%w: %s: %s: the next page is not on %s", ErrProviderUnavailable, g.cfg.Name, p, g.api.Host)
			}
			next = u
		}
	}
	return nil
}

// get fetches u with the token and decodes the JSON answer into v; it
// returns the Link header.
func (g *githubIdP) get(ctx context.Context, tok *oauth2.Token, u *url.URL, v any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, g.cfg.Name, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := g.f.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %s: %.200s", ErrProviderUnavailable, g.cfg.Name, u.Path, err.Error())
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound {
			hint = " (a scope missing? user:email and, for orgs and teams, read:org)"
		}
		return "", fmt.Errorf("%w: %s: %s answered HTTP %d%s", ErrProviderUnavailable, g.cfg.Name, u.Path, resp.StatusCode, hint)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return "", fmt.Errorf("%w: %s: %s: %v", ErrProviderUnavailable, g.cfg.Name, u.Path, err)
	}
	return resp.Header.Get("Link"), nil
}

// nextLink returns the rel="next" target of an RFC 8288 Link header, or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Contains(" "+strings.Trim(v, `"`)+" ", " next ") {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}
