package testenv

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// SignIn does in an http.Client what a browser does at the provider: it
// opens authorizeURL (the provider's authorization endpoint with the
// client's parameters), follows the provider's redirects to its login
// page, submits the login form with username and password, and follows the
// provider's redirects until one leaves the provider. That redirect — the
// client's redirect_uri with code and state, or with error — is returned,
// not followed. A refused login is an error.
func (p *OIDCProvider) SignIn(authorizeURL, username, password string) (*url.URL, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		return nil, err
	}
	var left *url.URL
	c := &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != issuer.Host {
				left = req.URL
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("more than 10 redirects at the provider")
			}
			return nil
		},
	}
	page, err := fetch(c, http.MethodGet, authorizeURL, nil)
	if left != nil || err != nil {
		return left, err
	}
	action, fields, err := loginForm(page)
	if err != nil {
		return nil, err
	}
	fields.Set("username", username)
	fields.Set("password", password)
	target, err := issuer.Parse(action)
	if err != nil {
		return nil, fmt.Errorf("login form action %q: %w", action, err)
	}
	page, err = fetch(c, http.MethodPost, target.String(), fields)
	if err != nil {
		return nil, err
	}
	if left == nil {
		return nil, fmt.Errorf("the provider refused the login: %s", loginError(page))
	}
	return left, nil
}

// fetch makes one request (a form post when form is not nil) and returns
// the final page's body.
func fetch(c *http.Client, method, target string, form url.Values) (string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode >= 400 {
		return "", fmt.Errorf("%s %s: HTTP %d: %.300s", method, target, resp.StatusCode, b)
	}
	return string(b), nil
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	formInput  = regexp.MustCompile(`<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
	formError  = regexp.MustCompile(`(?s)<p style="color:red;[^"]*">(.*?)</p>`)
)

// loginForm finds the login form's action and its prefilled fields (the
// hidden auth request id).
func loginForm(page string) (string, url.Values, error) {
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		return "", nil, fmt.Errorf("no login form on the provider's page: %.300s", page)
	}
	fields := url.Values{}
	for _, in := range formInput.FindAllStringSubmatch(page, -1) {
		fields.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), fields, nil
}

func loginError(page string) string {
	if m := formError.FindStringSubmatch(page); m != nil && strings.TrimSpace(m[1]) != "" {
		return html.UnescapeString(strings.TrimSpace(m[1]))
	}
	return "no redirect back to the client"
}
