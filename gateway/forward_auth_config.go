package gateway

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/conf"
)

// validateForwardAuth checks the forward_auth section.
func (c *Config) validateForwardAuth(p *conf.Problems) {
	fa := c.ForwardAuth
	if fa.LoginURL != "" {
		u, err := url.Parse(fa.LoginURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			p.Addf("forward_auth.login_url", "%q is not an absolute http(s) URL: the ingress passes authgate's redirect to the browser as it is", fa.LoginURL)
		case u.User != nil:
			p.Addf("forward_auth.login_url", "%q has user info: name the login page only", fa.LoginURL)
		case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(fa.LoginURL, "?#"):
			p.Addf("forward_auth.login_url", "%q has a query or fragment: authgate appends ?rd=<the original URL>", fa.LoginURL)
		}
	}
	for i, h := range fa.RedirectHosts {
		if msg := routeHostProblem(h); msg != "" {
			p.Addf(fmt.Sprintf("forward_auth.redirect_hosts[%d]", i), "%s", msg)
		}
	}
}
