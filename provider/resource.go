package provider

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// RFC 9728, OAuth 2.0 Protected Resource Metadata: how an OAuth-aware
// client (an MCP client, for one) that meets a 401 from a route behind
// authgate finds out where to get a token for it. The gateway serves the
// document of each route that opts in at the path ResourceMetadataPath
// gives, and its 401s on such a route add ResourceChallenge's parameter to
// WWW-Authenticate (RFC 9728 §5.1).

// ResourceMetadata is a protected resource's metadata document (RFC 9728
// §2).
type ResourceMetadata struct {
	// Resource is the resource identifier: the route's URL, https, no
	// fragment (§1.2). A client checks it against the URL it called
	// (§3.3).
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported: authgate takes access tokens in the
	// Authorization header (RFC 6750 §2.1). Its cookie is the login page's,
	// not a bearer method for other clients.
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

// ResourceMetadata returns the document for the protected resource at
// resource (the route's URL), whose tokens this provider issues.
func (p *Provider) ResourceMetadata(resource string, scopes []string) (*ResourceMetadata, error) {
	if _, err := resourceURL(resource); err != nil {
		return nil, err
	}
	return &ResourceMetadata{
		Resource:               resource,
		AuthorizationServers:   []string{p.issuer},
		ScopesSupported:        scopes,
		BearerMethodsSupported: []string{"header"},
	}, nil
}

// ResourceMetadataPath is where resource's metadata is served: the
// well-known segment goes between the host and the resource's path (RFC
// 9728 §3.1), so "https://api.example.com/mcp" has
// "/.well-known/oauth-protected-resource/mcp".
func ResourceMetadataPath(resource string) (string, error) {
	u, err := resourceURL(resource)
	if err != nil {
		return "", err
	}
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	return "/.well-known/oauth-protected-resource" + path, nil
}

// ResourceChallenge is the WWW-Authenticate parameter a 401 from resource
// adds (RFC 9728 §5.1): resource_metadata="<the document's URL>".
func ResourceChallenge(resource string) (string, error) {
	u, err := resourceURL(resource)
	if err != nil {
		return "", err
	}
	path, _ := ResourceMetadataPath(resource)
	return "resource_metadata=" + strconv.Quote(u.Scheme+"://"+u.Host+path), nil
}

// ServeResourceMetadata writes doc as the answer to its well-known path.
func ServeResourceMetadata(w http.ResponseWriter, doc *ResourceMetadata) {
	body, err := json.Marshal(doc)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(body)
}

func resourceURL(resource string) (*url.URL, error) {
	u, err := url.Parse(resource)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		return nil, errors.New("resource must be an https URL (RFC 9728 §1.2)")
	case u.Fragment != "" || u.RawQuery != "" || u.User != nil:
		return nil, errors.New("resource must have no fragment, query or user info")
	}
	return u, nil
}
