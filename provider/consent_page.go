package provider

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

//go:embed web/consent.html
var webFS embed.FS

// parsePages parses the consent page's templates (at construction, so a
// broken template fails New, not a request).
func parsePages() (*template.Template, error) {
	return template.ParseFS(webFS, "web/consent.html")
}

// scopeText says in words what a scope lets a client have.
var scopeText = map[string]string{
	ScopeOpenID:  "Know that it is you (your user id)",
	ScopeProfile: "See your username",
	ScopeEmail:   "See your email address",
	ScopeRoles:   "See your roles",
}

type consentField struct{ Name, Value string }

type consentView struct {
	ClientID, Username, RedirectOrigin string
	Action, Ticket, Stylesheet         string
	Scopes                             []string
	Fields                             []consentField
}

// consentPage is GET {prefix}/oauth2/consent: the authorization request's
// parameters and a consent ticket, rendered as a form that posts them back
// to the authorization endpoint with the user's answer. It trusts nothing
// in its query but what the ticket vouches for: the user, client,
// redirect URI and scopes shown are checked against it.
func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back := cleanForm(q)
	user, err := p.browser.SignedIn(r)
	if errors.Is(err, ErrNotSignedIn) {
		// Signed out meanwhile: the authorization request starts over.
		http.Redirect(w, r, p.path("authorize")+"?"+back.Encode(), http.StatusFound)
		return
	}
	if err != nil {
		p.log.Error("oauth2: session check failed", "error", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	redirectURI := q.Get("redirect_uri")
	var c *Client
	var scopes []string
	if c, err = p.clients.Client(r.Context(), q.Get("client_id")); err == nil {
		scopes = grantable(c, strings.Fields(q.Get("scope")))
		err = p.checkConsentTicket(q.Get("consent_ticket"), user.ID, c.ID, redirectURI, scopes)
	}
	switch {
	case errors.Is(err, ErrUnknownClient), errors.Is(err, errBadTicket):
		p.renderPage(w, "expired", http.StatusBadRequest, consentView{Stylesheet: p.style}, "")
		return
	case err != nil:
		p.log.Error("oauth2: client lookup failed", "error", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	v := consentView{
		ClientID:       c.ID,
		Username:       user.Username,
		RedirectOrigin: origin(redirectURI),
		Action:         p.path("authorize"),
		Ticket:         q.Get("consent_ticket"),
		Stylesheet:     p.style,
	}
	for _, s := range scopes {
		text, ok := scopeText[s]
		if !ok {
			text = "Use the scope “" + s + "”"
		}
		v.Scopes = append(v.Scopes, text)
	}
	keys := make([]string, 0, len(back))
	for k := range back {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, val := range back[k] {
			v.Fields = append(v.Fields, consentField{Name: k, Value: val})
		}
	}
	p.renderPage(w, "consent.html", http.StatusOK, v, v.RedirectOrigin)
}

// renderPage writes a page with headers that keep it out of caches and
// frames (clickjacking a consent button is the attack to prevent). The
// form may post to us, and the redirect that answers it may go to the
// client: CSP form-action applies to that redirect too.
func (p *Provider) renderPage(w http.ResponseWriter, name string, status int, v consentView, formTarget string) {
	var buf bytes.Buffer
	if err := p.pages.ExecuteTemplate(&buf, name, v); err != nil {
		p.log.Error("oauth2: rendering the consent page failed", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	csp := "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	if formTarget != "" {
		csp += " " + formTarget
	}
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// origin is the CSP source expression for a redirect URI's origin:
// scheme://host[:port], or "scheme:" for a private-use scheme.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// FormTarget is the CSP form-action source the login page needs when it
// is to come back to rd: signing in there answers with a redirect to rd,
// and when rd is an authorization request, on to the client's redirect
// URI — CSP form-action applies to that whole chain. It is the origin of
// rd's redirect_uri when that is registered, byte for byte, for rd's
// client; "" for anything else (the page's policy stays 'self').
func (p *Provider) FormTarget(ctx context.Context, rd string) string {
	u, err := url.Parse(rd)
	if err != nil || u.Path != p.path("authorize") {
		return ""
	}
	q := u.Query()
	c, err := p.clients.Client(ctx, q.Get("client_id"))
	if err != nil || !slices.Contains(c.RedirectURIs, q.Get("redirect_uri")) {
		return ""
	}
	return origin(q.Get("redirect_uri"))
}
