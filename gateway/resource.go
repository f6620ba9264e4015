package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/provider"
)

// RFC 9728 protected-resource metadata for the routes that set
// oauth_resource: the gateway serves each one's document on the
// resource's host, and the route's 401s name it in WWW-Authenticate, so an
// OAuth-aware client (an MCP client, for one) that meets the 401 finds
// authgate's provider, gets a token there and comes back with it. Both are
// worked out when the routing is built; the request path only looks the
// document up when the path is under the well-known prefix.

const resourceWellKnown = "/.well-known/oauth-protected-resource"

// resourceKey is where a document is served: the Host.Name of the
// resource's URL (any port: a proxy in front may change it) and the
// canonical well-known path.
type resourceKey struct{ host, path string }

// resourceDoc is one route's metadata document.
type resourceDoc struct {
	route string // the route's name, for logs and metrics
	doc   *provider.ResourceMetadata
}

// resourceTarget reads a route's oauth_resource: the host and canonical
// path of the resource, and where its document is served. The message is
// the problem when it is not usable.
func resourceTarget(resource string) (target, meta resourceKey, msg string) {
	metaPath, err := provider.ResourceMetadataPath(resource)
	if err != nil {
		return target, meta, fmt.Sprintf("%q: %v", resource, err)
	}
	u, _ := url.Parse(resource) // ResourceMetadataPath parsed it
	host, err := ParseHost(u.Host)
	if err != nil {
		return target, meta, fmt.Sprintf("%q: %v", resource, err)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon, err := CanonicalPath(path)
	if err != nil || canon != path {
		return target, meta, fmt.Sprintf("%q: the path must be in the canonical form requests are matched in (no \"..\", \"//\" or needless escapes)", resource)
	}
	metaCanon, err := CanonicalPath(metaPath)
	if err != nil {
		return target, meta, fmt.Sprintf("%q: its metadata path %q is not usable", resource, metaPath)
	}
	return resourceKey{host.Name, canon}, resourceKey{host.Name, metaCanon}, ""
}

// checkOAuthResources checks the routes' oauth_resource: the provider is
// on (its issuer is the authorization server the document names), the
// route asks for a token and proxies (only then does it answer 401), the
// URL is one the route serves, and no two routes claim one document.
func (c *Config) checkOAuthResources(p *conf.Problems) {
	docs := map[resourceKey]int{}
	for i := range c.Routes {
		rt := &c.Routes[i]
		if rt.OAuthResource == "" {
			continue
		}
		path := fmt.Sprintf("routes[%d].oauth_resource", i)
		switch {
		case !c.OAuth2.Enabled:
			p.Addf(path, "needs oauth2.enabled: true: the metadata names authgate's OAuth2 provider as the authorization server")
			continue
		case rt.Auth == "public":
			p.Addf(path, "applies only to auth: required: a public route never asks a client for a token")
			continue
		case rt.Upstream == UpstreamNone:
			p.Addf(path, "needs an upstream: a route with upstream %s answers forward-auth checks only", UpstreamNone)
			continue
		}
		target, meta, msg := resourceTarget(rt.OAuthResource)
		if msg != "" {
			p.Addf(path, "%s", msg)
			continue
		}
		if len(rt.Hosts) > 0 && !routeNamesHost(rt.Hosts, target.host) {
			p.Addf(path, "%q: its host %s is not among this route's hosts", rt.OAuthResource, target.host)
		}
		if !hasPathPrefixFold(target.path, strings.ToLower(rt.Path)) {
			p.Addf(path, "%q: its path %s is not under this route's path %s", rt.OAuthResource, target.path, rt.Path)
		}
		if j, dup := docs[meta]; dup {
			p.Addf(path, "%q has the same metadata document (%s on %s) as routes[%d]", rt.OAuthResource, meta.path, meta.host, j)
		} else {
			docs[meta] = i
		}
	}
}

// routeNamesHost reports whether a route with hosts serves host (a
// Host.Name): it names it, or a wildcard covers it.
func routeNamesHost(hosts []string, host string) bool {
	for _, h := range hosts {
		h = routeHostKey(h)
		if parent, ok := strings.CutPrefix(h, "*."); ok {
			if dot := strings.IndexByte(host, '.'); dot > 0 && host[dot+1:] == parent {
				return true
			}
		} else if h == host {
			return true
		}
	}
	return false
}

// resolveResource fills in rh (routes[i])'s challenge and adds its
// document to docs. Validate has checked the URL and that oauth2.enabled
// is set in the file; the provider itself starts only with the process, so
// a reload that turns it on is refused here, at the key.
func (s *Server) resolveResource(i int, rh *routeHandler, docs map[resourceKey]resourceDoc) error {
	res := rh.route.OAuthResource
	problem := func(msg string) error {
		return &conf.Problem{Path: fmt.Sprintf("routes[%d].oauth_resource", i), Msg: msg}
	}
	if s.provider == nil {
		return problem("the OAuth2 provider is not running: oauth2.enabled takes effect on restart")
	}
	_, meta, msg := resourceTarget(res)
	if msg != "" {
		return problem(msg)
	}
	doc, err := s.provider.ResourceMetadata(res, nil)
	if err != nil {
		return problem(err.Error())
	}
	param, err := provider.ResourceChallenge(res)
	if err != nil {
		return problem(err.Error())
	}
	rh.challenge = param
	docs[meta] = resourceDoc{route: rh.name, doc: doc}
	return nil
}

// serveResource answers a request for a route's metadata document: public,
// GET and HEAD only.
func (s *Server) serveResource(x *exchange, r *http.Request, d resourceDoc) {
	w := &x.rec
	x.route = d.route
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, problem.ErrMethodNotAllowed)
		return
	}
	provider.ServeResourceMetadata(w, d.doc)
}

// challengeWriter adds a route's resource_metadata parameter to the
// WWW-Authenticate header of a 401 (RFC 9728 §5.1), after what the error
// already says (realm, the RFC 6750 error code).
type challengeWriter struct {
	http.ResponseWriter
	param string
}

func (c challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		h := c.Header()
		v := h.Get("WWW-Authenticate")
		if v == "" {
			v = "Bearer " + c.param
		} else {
			v += ", " + c.param
		}
		h.Set("WWW-Authenticate", v)
	}
	c.ResponseWriter.WriteHeader(code)
}

// errorWriter is where the route's errors are written: w itself, or for a
// route with oauth_resource, w adding its challenge to a 401.
func (rh *routeHandler) errorWriter(w http.ResponseWriter) http.ResponseWriter {
	if rh.challenge == "" {
		return w
	}
	return challengeWriter{w, rh.challenge}
}
