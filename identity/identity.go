package identity

import (
	"slices"
	"strings"
	"time"
)

// Identity is who a request is from, as established by a verified access
// token. Authentication sets it once; the proxy reads it to write identity
// headers. It is immutable after construction and may be shared between
// requests that carry the same token.
type Identity struct {
	UserID    string // the token's sub
	Username  string
	Email     string
	Roles     []string // sorted, no duplicates
	SessionID string   // sid: the refresh-token family this token belongs to
	TokenID   string   // jti
	IssuedAt  time.Time
	ExpiresAt time.Time

	rolesHeader string // Roles joined with ",", computed once
}

// New builds an Identity and precomputes the values the proxy writes on
// every request, so the hot path does no string building.
func New(id Identity) *Identity {
	roles := slices.Clone(id.Roles)
	slices.Sort(roles)
	id.Roles = slices.Compact(roles)
	id.rolesHeader = strings.Join(id.Roles, ",")
	return &id
}

// RolesHeader is the comma-separated role list for the roles header.
func (id *Identity) RolesHeader() string { return id.rolesHeader }

// HasAnyRole reports whether the identity holds at least one of roles. An
// empty roles list is satisfied by any identity.
func (id *Identity) HasAnyRole(roles []string) bool {
	if len(roles) == 0 {
		return true
	}
	for _, r := range roles {
		if _, ok := slices.BinarySearch(id.Roles, r); ok {
			return true
		}
	}
	return false
}
