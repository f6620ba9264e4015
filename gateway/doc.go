// Package gateway is authgate's server: it composes config.yaml from the
// sections the other packages own and loads it (YAML, environment
// expansion, the schema walk, defaults, validation, with every problem at
// file:line:col), runs the listeners with TLS (ACME, files or
// self-signed), canonicalises hosts and paths, routes requests to the auth
// API or to a route, authenticates protected requests and hands the
// decision to the proxy, and serves the ops listener, the access log,
// reloads and the runtime settings. OpenAccounts opens the account side
// for it and for `authgate user`.
//
// It imports every package below it and must never be imported by one:
// only main (the CLI) uses it.
package gateway
