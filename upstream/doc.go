// Package upstream is authgate's side towards the backends: named pools of
// targets behind a balancer, active and passive health checking, the
// reverse proxy (httputil.ReverseProxy driven only through Rewrite) that
// writes the identity headers and makes sure no client-sent copy of them,
// or of the forwarding headers, gets through, and builtin:echo. It holds
// the one list of reserved header names, the one check of header names
// and the one parser of upstream targets, and owns the identity_headers
// and upstreams sections of config.yaml (Config).
//
// It imports identity, internal/conf and internal/problem only, and must
// never import the stores, the denylist, the token keys or the account
// and HTTP layers: its dependencies hold no database driver, no Redis
// client and no JWT library (internal/archtest asserts it). What it knows
// of a request — path, client, identity, assertion — the gateway decides
// and hands it in a Forward.
package upstream
