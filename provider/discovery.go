package provider

import (
	"context"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Metadata is the authorization server's metadata document: OIDC
// Discovery §3 and RFC 8414 §2 share it. zitadel's type lacks one member
// authgate supports.
type Metadata struct {
	oidc.DiscoveryConfiguration
	// RFC 9207 §3: the authorization response carries iss.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// Metadata returns the document served at both well-known paths.
func (p *Provider) Metadata() *Metadata {
	authMethods := []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	return &Metadata{
		DiscoveryConfiguration: oidc.DiscoveryConfiguration{
			Issuer:                           p.issuer,
			AuthorizationEndpoint:            p.url("authorize"),
			TokenEndpoint:                    p.url("token"),
			IntrospectionEndpoint:            p.url("introspect"),
			UserinfoEndpoint:                 p.url("userinfo"),
			RevocationEndpoint:               p.url("revoke"),
			EndSessionEndpoint:               p.url("logout"),
			JwksURI:                          p.jwksURI,
			ScopesSupported:                  []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeRoles},
			ResponseTypesSupported:           []string{string(oidc.ResponseTypeCode)},
			ResponseModesSupported:           []string{string(oidc.ResponseModeQuery)},
			GrantTypesSupported:              p.grantTypes(),
			SubjectTypesSupported:            []string{"public"},
			IDTokenSigningAlgValuesSupported: []string{string(p.sign.alg)},
			// "none" is a public client's: it authenticates with PKCE.
			TokenEndpointAuthMethodsSupported:         []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone},
			RevocationEndpointAuthMethodsSupported:    []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone},
			IntrospectionEndpointAuthMethodsSupported: authMethods,
			ClaimsSupported: []string{
				"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
				"preferred_username", "email", "email_verified", "roles",
			},
			// plain is refused: it protects nothing against an attacker who
			// sees the authorization request (RFC 9700 §2.1.1).
			CodeChallengeMethodsSupported: []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
			RequestParameterSupported:     false,
			RequestURIParameterSupported:  false,
		},
		AuthorizationResponseIssParameterSupported: true,
	}
}

// grantTypes lists password only while a client has it: it is off by
// default (RFC 9700 §2.4), and the document should not suggest otherwise.
func (p *Provider) grantTypes() []oidc.GrantType {
	g := []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	if p.allowPassword {
		g = append(g, GrantPassword)
	}
	return g
}

// metadataPaths are the well-known paths of the issuer's metadata: RFC
// 8414 §3 (well-known segment before the issuer's path), its §5 form for
// OpenID, and OIDC Discovery §4 (after the path) when the issuer has one.
func (p *Provider) metadataPaths() []string {
	u, _ := url.Parse(p.issuer)
	paths := []string{
		oidc.AuthorizationServerMetadataEndpoint + u.Path,
		oidc.DiscoveryEndpoint + u.Path,
	}
	if u.Path != "" {
		paths = append(paths, u.Path+oidc.DiscoveryEndpoint)
	}
	return paths
}

// metadataServer answers zitadel's MetadataHandler, which parses the
// well-known paths.
type metadataServer struct {
	op.UnimplementedMetadataServer
	p *Provider
}

func (m metadataServer) OpenIDConfiguration(_ context.Context, r *op.Request[op.MetadataRequest]) (*op.Response, error) {
	return m.document(r)
}

func (m metadataServer) AuthorizationServerMetadata(_ context.Context, r *op.Request[op.MetadataRequest]) (*op.Response, error) {
	return m.document(r)
}

func (m metadataServer) document(r *op.Request[op.MetadataRequest]) (*op.Response, error) {
	u, _ := url.Parse(m.p.issuer)
	if r.Data.IssuerPath != u.Path {
		// RFC 8414 §3.3: metadata for another issuer is not ours to give.
		return nil, op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("no issuer at this path"), http.StatusNotFound)
	}
	resp := op.NewResponse(m.p.Metadata())
	resp.Header.Set("Cache-Control", "public, max-age=3600")
	return resp, nil
}
