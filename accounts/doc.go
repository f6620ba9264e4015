// Package accounts is the account side of authgate: users and their names,
// e-mail addresses and passwords (hashing, the password policy, the list
// of common passwords, the adoption of the FastAPI original's users
// table while it runs beside authgate, and its collisions), sessions and
// the rotation of their refresh tokens (with the optional reuse grace),
// the FastAPI original's tokens under tokens.legacy, the login and
// registration throttles with the gate that bounds attempts in flight, and
// the flows over them — Register, Login, Refresh, Logout, Me — and the
// administrative changes behind `authgate user` (AddUser, SetActive,
// SetRoles, SetPassword, ListUsers, Conflicts), and sign-in through identity
// providers: admitting a verified sign-in (FederatedLogin: sign in, link
// or create by federation.Result.Admit), the linked identities and the
// provider grant sealed beside each session, re-reading roles from the
// provider at every refresh, and unlinking. Open builds the service from
// the database, tokens and redis sections, on store, tokens and denylist.
// It owns the accounts section of config.yaml (Config).
//
// It imports identity, internal/conf, internal/problem, store, tokens,
// federation and denylist, and must never import authn, upstream or
// gateway: the HTTP API is built on it, not the other way round.
package accounts
