package authn

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// The browser login flow: GET {prefix}/login shows a form, its POST sets
// the session cookies and sends the browser on to rd. No JavaScript; the
// only other resource is the stylesheet, served from our own origin.

//go:embed web/pages.html web/login.css
var webFiles embed.FS

// pageCSP is the Content-Security-Policy of our HTML pages: nothing but our
// stylesheet loads, forms post only to us, no page of ours is framed
// (clickjacking), and no <base> can redirect relative URLs.
const pageCSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageCSPFor is pageCSP letting the forms' redirects go on to the
// redirect hosts too: CSP form-action also governs where a form's
// answer redirects (CSP3 §6.4.1), and the login page sends the browser
// back to an app on one of them (forward-auth). The hosts are checked
// names, so they are safe in the header.
func pageCSPFor(redirectHosts []string) string {
	if len(redirectHosts) == 0 {
		return pageCSP
	}
	var b strings.Builder
	b.WriteString("form-action 'self'")
	for _, h := range redirectHosts {
		if strings.IndexByte(h, ':') < 0 { // CSP has no IPv6 host-source
			b.WriteString(" " + h + ":*")
		}
	}
	return strings.Replace(pageCSP, "form-action 'self'", b.String(), 1)
}

// page is what the login and logout templates show.
type page struct {
	Title      string
	Prefix     string
	CSRF       string
	RD         string // validated
	Username   string // kept after a failed attempt; the password never is
	Error      string
	SignedInAs string
	// ContinueAs is the user of an expired session this browser may renew
	// by following Continue (GET {prefix}/refresh?rd=…).
	ContinueAs, Continue string
	// GoTo sends the browser on at once (a meta refresh), as the page
	// after a logout that ends the provider's session too does.
	GoTo string
	// Providers are the identity providers' buttons; LocalLogin shows the
	// username and password form (auth_api.local_login).
	Providers  []providerLink
	LocalLogin bool
}

// loginPage is the login page for rd, before any error.
func (s *Service) loginPage(r *http.Request, rd string) page {
	return page{
		Title:      "Sign in",
		RD:         rd,
		SignedInAs: s.signedInAs(r),
		Providers:  s.providerLinks(rd),
		LocalLogin: s.cfg.LocalLoginEnabled(),
	}
}

func parsePages() (*template.Template, error) {
	return template.ParseFS(webFiles, "web/pages.html")
}

// pageHeaders sets the headers of every HTML page: the CSP, no framing, no
// Referer (rd and the page's query must not leak to whatever is linked),
// and no caching (the page holds a CSRF token).
func pageHeaders(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	noStore(w)
}

// render answers with the template name. It sets a CSRF cookie if the
// browser has none and puts the matching token in the page.
func (s *Service) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	p.Prefix = s.web.prefix
	token, err := s.issueCSRF(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.CSRF = token
	var buf bytes.Buffer
	if err := s.web.pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.fail(w, r, err)
		return
	}
	pageHeaders(w, s.web.csp)
	if p.RD != "" && s.formTarget != nil {
		if src := s.formTarget(r.Context(), p.RD); src != "" {
			w.Header().Set("Content-Security-Policy", strings.Replace(s.web.csp, "form-action 'self'", "form-action 'self' "+src, 1))
		}
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// signedInAs returns the username of the browser's valid session, if any.
func (s *Service) signedInAs(r *http.Request) string {
	id, src, err := s.accessIdentity(r)
	if err != nil || src != FromCookie {
		return ""
	}
	return id.Username
}

// handleLoginPage is GET {prefix}/login?rd=…. A browser whose session
// only needs renewing (an expired access cookie of ours) is offered a
// link that renews it: a browser coming from another site is sent here
// rather than renewed, and the link is a navigation from our own origin.
func (s *Service) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	p := s.loginPage(r, s.redirectTarget(r.URL.Query().Get("rd")))
	if id, ok := s.renewable(r); ok && p.SignedInAs == "" {
		p.ContinueAs = id.Username
		p.Continue = s.web.prefix + "/refresh?rd=" + url.QueryEscape(p.RD)
	}
	s.render(w, r, "login", http.StatusOK, p)
}

// browserLogin is POST {prefix}/login from our form. Success: the session
// cookies and 303 See Other to rd (RFC 9110 §15.4.4: the browser follows
// with a GET). Failure: the form again, with the status the gateway gives
// the error and a message that does not say whether the username exists.
func (s *Service) browserLogin(w http.ResponseWriter, r *http.Request, form url.Values) {
	p := s.loginPage(r, s.redirectTarget(formOrQuery(r, form, "rd")))
	p.SignedInAs = ""
	p.Username = form.Get("username")
	if !p.LocalLogin {
		s.pageError(w, r, "login", p, problem.ErrLocalLoginDisabled)
		return
	}
	if err := s.checkForm(r, form); err != nil {
		s.pageError(w, r, "login", p, err)
		return
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		field := "username"
		if username != "" {
			field = "password"
		}
		s.pageError(w, r, "login", p, &problem.ValidationError{Field: field, Msg: "field required"})
		return
	}
	pair, err := s.accounts.Login(r.Context(), username, password, clientIP(r))
	if err != nil {
		s.pageError(w, r, "login", p, err)
		return
	}
	s.setSessionCookies(w, pair)
	noStore(w)
	http.Redirect(w, r, p.RD, http.StatusSeeOther)
}

// formOrQuery returns a form field, falling back to the query string.
func formOrQuery(r *http.Request, form url.Values, key string) string {
	if v := form.Get(key); v != "" {
		return v
	}
	return r.URL.Query().Get(key)
}

// pageError re-renders page name for err. The status is the one
// internal/problem's table gives err (the one place statuses are chosen),
// learnt by letting s.fail answer into a recorder; a Retry-After it sets
// is kept.
func (s *Service) pageError(w http.ResponseWriter, r *http.Request, name string, p page, err error) {
	rec := &statusRecorder{header: http.Header{}}
	s.fail(rec, r, err)
	status := rec.status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	retry := rec.header.Get("Retry-After")
	if retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	p.Error = pageMessage(name, err, status, retry)
	s.render(w, r, name, status, p)
}

// pageMessage is what a person is told about err on page name.
func pageMessage(name string, err error, status int, retryAfter string) string {
	var ve *problem.ValidationError
	if msg := signInMessage(err); msg != "" {
		return msg
	}
	switch {
	case errors.Is(err, problem.ErrCrossSite):
		return "This form has expired or was sent from another site. Please try again."
	case errors.Is(err, problem.ErrUserDisabled):
		return "This account is disabled."
	case errors.As(err, &ve):
		return "Enter your username and password."
	case status == http.StatusUnauthorized:
		return "Incorrect username or password."
	case status == http.StatusTooManyRequests:
		if n, perr := strconv.Atoi(retryAfter); perr == nil && n > 0 {
			return "Too many failed sign-in attempts. Try again in " + strconv.Itoa(n) + " seconds."
		}
		return "Too many failed sign-in attempts. Try again later."
	case status == http.StatusServiceUnavailable && name == "logout":
		return "You are signed out of this browser, but the sign-out may not have reached every server yet. Try again in a moment."
	case status == http.StatusServiceUnavailable:
		return "Signing in is temporarily unavailable. Try again in a moment."
	}
	return "Something went wrong. Please try again."
}

// statusRecorder is a ResponseWriter that keeps the status and headers of
// an answer and discards its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// handleLoginCSS serves the pages' stylesheet.
func (s *Service) handleLoginCSS(w http.ResponseWriter, r *http.Request) {
	css, _ := webFiles.ReadFile("web/login.css") // embedded: cannot fail
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	w.Write(css)
}
