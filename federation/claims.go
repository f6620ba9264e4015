package federation

import (
	"slices"
	"strconv"
	"strings"
)

// The claims a github sign-in adds to what /user says, so that roles_claim,
// role_map and required_claims work the same way for both provider types.
const (
	claimOrgs  = "orgs"  // organisation logins, lower case
	claimTeams = "teams" // "org/team-slug", lower case
)

// lookup finds the value at path in claims. A path is a claim name or names
// joined by dots into nested objects; since names may themselves contain
// dots ("https://example.com/roles", a Keycloak client "my.app"), at every
// level the longest name that exists wins: "resource_access.my.app.roles"
// finds {"resource_access": {"my.app": {"roles": …}}}.
func lookup(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	segs := strings.Split(path, ".")
	for i := len(segs) - 1; i >= 1; i-- {
		v, ok := claims[strings.Join(segs[:i], ".")]
		if !ok {
			continue
		}
		if m, isObj := v.(map[string]any); isObj {
			if found, ok := lookup(m, strings.Join(segs[i:], ".")); ok {
				return found, true
			}
		}
	}
	return nil, false
}

// claimStrings reads a claim that holds groups or roles: an array (its
// string elements; others are skipped) or a single string.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// claimText writes a scalar claim as text for comparison with a configured
// value: strings as they are, booleans as true/false, numbers in shortest
// form (JSON numbers decode as float64).
func claimText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// claimHas reports whether the claim at path equals want or, for an array,
// holds an element that does.
func claimHas(claims map[string]any, path, want string) bool {
	v, ok := lookup(claims, path)
	if !ok {
		return false
	}
	if arr, isArr := v.([]any); isArr {
		for _, e := range arr {
			if s, ok := claimText(e); ok && s == want {
				return true
			}
		}
		return false
	}
	if arr, isArr := v.([]string); isArr {
		return slices.Contains(arr, want)
	}
	s, ok := claimText(v)
	return ok && s == want
}

// claimString returns the claim name as a string, or "".
func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// claimTrue reads a boolean claim such as email_verified. Some providers
// (AWS Cognito among them) send it as the string "true".
func claimTrue(claims map[string]any, name string) bool {
	switch v := claims[name].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// roleMapper turns the values of a provider's roles claim into authgate
// roles; see ProviderConfig.RoleMap for the rule.
type roleMapper struct {
	claim string              // "" = the provider does not manage roles
	m     map[string][]string // nil = take values as roles
	fold  bool                // compare values without case (github)
}

func newRoleMapper(pc *ProviderConfig) roleMapper {
	rm := roleMapper{claim: pc.RolesClaim, fold: pc.Type == TypeGitHub}
	if len(pc.RoleMap) > 0 {
		rm.m = make(map[string][]string, len(pc.RoleMap))
		for k, v := range pc.RoleMap {
			if rm.fold {
				k = strings.ToLower(k)
			}
			rm.m[k] = append(rm.m[k], v...)
		}
	}
	return rm
}

// manages reports whether the provider is the source of the user's roles.
func (rm roleMapper) manages() bool { return rm.claim != "" }

// roles maps claims to sorted, de-duplicated authgate roles: nil when the
// provider does not manage roles, an empty non-nil slice when it does and
// grants none (so "no roles" is never mistaken for "keep the old ones").
func (rm roleMapper) roles(claims map[string]any) []string {
	if !rm.manages() {
		return nil
	}
	out := []string{}
	v, _ := lookup(claims, rm.claim)
	for _, s := range claimStrings(v) {
		if rm.fold {
			s = strings.ToLower(s)
		}
		if rm.m == nil {
			if ValidRole(s) {
				out = append(out, s)
			}
			continue
		}
		out = append(out, rm.m[s]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
