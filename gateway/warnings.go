package gateway

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Warnings are settings that are valid but worth a second look. `authgate
// check` prints them after the route table, and the gateway logs them at
// start and after a reload; they never stop either.
//
// Open registration in front of a route that needs only a login: for "put
// a legacy app behind a login" that means anyone who can reach
// POST {prefix}/register can sign up and use the app.
func (c *Config) Warnings() []string {
	var out []string
	if c.Accounts.Registration == "open" {
		var names []string
		for i := range c.Routes {
			if rt := &c.Routes[i]; rt.Auth == "required" && len(rt.Roles) == 0 {
				names = append(names, strconv.Quote(rt.Name))
			}
		}
		if len(names) > 0 {
			out = append(out, fmt.Sprintf("accounts.registration is open and routes %s need only a login: "+
				"anyone who can reach POST %s/register can sign up and use them; "+
				"set accounts.registration: closed (accounts from `authgate user add`) or give those routes roles",
				strings.Join(names, ", "), c.AuthAPI.Prefix))
		}
	}
	return out
}

// logWarnings logs what `authgate check` warns about.
func logWarnings(logger *slog.Logger, c *Config) {
	for _, w := range c.Warnings() {
		logger.Warn(w)
	}
}
