// Command authgate is an authentication gateway: it terminates TLS, serves
// the account and token API, and proxies to HTTP backends only requests
// that carry a valid, unrevoked token with the roles a route asks for.
//
// main.go parses the command line and wires packages together; the
// behaviour lives in the packages below it (README, "Code map"). No
// package of authgate's may import it.
package main
