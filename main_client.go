package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/authgate/authgate/gateway"
	"github.com/authgate/authgate/provider"
)

// client is `authgate client add|list|remove`: OAuth2 clients registered
// in the database, beside those in config.yaml (oauth2.clients). Every
// running instance sees a change at once.
func client(args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("want add, list or remove")}
	}
	sub, args := args[0], args[1:]
	fs, cfgPath := flags("client " + sub)
	var c provider.ClientConfig
	var redirects, grants, scopes, roles multiFlag
	if sub == "add" {
		fs.StringVar(&c.ID, "id", "", "client_id")
		fs.Var(&redirects, "redirect-uri", "redirect URI, matched exactly (repeatable)")
		fs.Var(&grants, "grant", "grant: authorization_code, refresh_token, client_credentials (repeatable)")
		fs.Var(&scopes, "scope", "scope the client may ask for (repeatable)")
		fs.Var(&roles, "role", "role of the client's own client_credentials tokens (repeatable)")
		fs.BoolVar(&c.FirstParty, "first-party", false, "no consent screen")
		fs.BoolVar(&c.Public, "public", false, "no secret; PKCE required")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	want := map[string]int{"add": 0, "list": 0, "remove": 1}
	n, ok := want[sub]
	if !ok {
		return usageError{fmt.Errorf("unknown client command %q", sub)}
	}
	if fs.NArg() != n {
		return usageError{fmt.Errorf("client %s takes %d argument(s)", sub, n)}
	}
	cfg, err := gateway.Load(*cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	admin, err := gateway.OpenAccounts(ctx, cfg, gateway.NewLogger(os.Stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer admin.Close()
	clients := admin.OAuth2Clients()

	switch sub {
	case "add":
		if c.ID == "" {
			return usageError{errors.New("--id is required")}
		}
		if slices.ContainsFunc(cfg.OAuth2.Clients, func(cc provider.ClientConfig) bool { return cc.ID == c.ID }) {
			return fmt.Errorf("client %q is in the config file already", c.ID)
		}
		c.RedirectURIs, c.Roles = redirects, roles
		if len(grants) > 0 {
			c.Grants = grants
		}
		if len(scopes) > 0 {
			c.Scopes = scopes
		}
		secret, err := clients.Add(ctx, c)
		if err != nil {
			return err
		}
		fmt.Printf("add: client %s registered\n", c.ID)
		if secret != "" {
			fmt.Printf("client_secret: %s\n(shown once: authgate keeps only its hash)\n", secret)
		}
		return nil
	case "list":
		list, err := clients.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPUBLIC\tFIRST_PARTY\tGRANTS\tSCOPES\tROLES\tREDIRECT_URIS")
		for _, c := range list {
			fmt.Fprintf(tw, "%s\t%t\t%t\t%s\t%s\t%s\t%s\n", c.ID, c.Public, c.FirstParty, strings.Join(c.Grants, ","),
				strings.Join(c.Scopes, ","), strings.Join(c.Roles, ","), strings.Join(c.RedirectURIs, " "))
		}
		return tw.Flush()
	default: // remove
		if err := clients.Remove(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Printf("remove: client %s removed\n", fs.Arg(0))
		return nil
	}
}
