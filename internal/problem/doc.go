// Package problem is authgate's one error table: the sentinel errors for
// the expected outcomes of a request (no credentials, an invalid or
// revoked token, a missing role, a store or the denylist unavailable, a
// throttled login, a field that breaks a rule, a bad path, an upstream that
// does not answer, …), each with the HTTP status, detail and RFC 6750
// bearer error code it is answered with, and Write, which renders them as
// application/problem+json (RFC 9457).
//
// Every package returns these errors (wrapped with %w) and never picks a
// status itself; the tests read their expectations from the same table.
//
// It imports only the standard library and must never import a package
// of authgate's: every layer, down to identity's neighbours, uses it.
package problem
