package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/gateway"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/tokens"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `authgate — an authentication gateway

Usage:
  authgate [serve] [--config FILE]            run the gateway (default: ./config.yaml)
  authgate check   [--config FILE | FILE]     validate the config and print the route table
  authgate route   [--config FILE] METHOD URL which route a request takes, and why
  authgate user add    [--config FILE] --username U --email E [--role R]...   (password on stdin)
  authgate user list   [--config FILE]
  authgate user conflicts [--config FILE]    rows that are one account after normalisation (exit 1 if any)
  authgate user disable|enable [--config FILE] USERNAME
  authgate user roles  [--config FILE] USERNAME ROLE1,ROLE2
  authgate user passwd [--config FILE] USERNAME                              (password on stdin)
  authgate user identities [--config FILE] USERNAME      identity-provider identities linked to the user
  authgate user unlink [--config FILE] USERNAME ID       unlink one (ends the sessions that began through it)
  authgate client add    [--config FILE] --id ID [--redirect-uri URI]... [--grant G]... [--scope S]...
                         [--role R]... [--first-party] [--public]          (prints the secret once)
  authgate client list   [--config FILE]
  authgate client remove [--config FILE] ID
  authgate keygen  [--alg ES256|RS256|EdDSA|HS256]
  authgate version
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "check":
		err = check(args)
	case "route":
		err = route(args)
	case "user":
		err = user(args)
	case "client":
		err = client(args)
	case "keygen":
		err = keygen(args)
	case "version":
		fmt.Println("authgate", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "authgate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(os.Stderr, "authgate %s: %v\n\n%s", cmd, err, usage)
		return 2
	}
	for _, e := range conf.Unjoin(err) {
		fmt.Fprintln(os.Stderr, e)
	}
	return 1
}

type usageError struct{ error }

// flags returns a flag set for a subcommand with the shared --config flag.
func flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := fs.String("config", "config.yaml", "config file")
	return fs, cfg
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	return nil
}

func serve(args []string) error {
	fs, cfgPath := flags("serve")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := gateway.Load(*cfgPath)
	if err != nil {
		return err
	}
	logger := gateway.NewLogger(os.Stderr, cfg.Log)
	// zitadel/oidc (the OAuth2 provider) logs through slog's default
	// logger: make it the configured one, level and format included.
	slog.SetDefault(logger)
	gateway.ApplyRuntime(cfg.Runtime, logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{})
	go func() {
		for range hup {
			reload <- struct{}{}
		}
	}()

	srv, err := gateway.NewFromConfig(ctx, cfg, gateway.Options{ConfigPath: *cfgPath, Logger: logger, Version: version})
	if err != nil {
		return err
	}
	return srv.Run(ctx, reload)
}

func check(args []string) error {
	fs, cfgPath := flags("check")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		*cfgPath = fs.Arg(0)
	default:
		return usageError{errors.New("at most one config file")}
	}
	if err := gateway.Check(os.Stdout, *cfgPath); err != nil {
		return err
	}
	fmt.Printf("\n%s: OK\n", *cfgPath)
	return nil
}

func route(args []string) error {
	fs, cfgPath := flags("route")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{errors.New("want METHOD URL")}
	}
	cfg, err := gateway.Load(*cfgPath)
	if err != nil {
		return err
	}
	fmt.Print(gateway.Explain(cfg, fs.Arg(0), fs.Arg(1)))
	return nil
}

func user(args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("want add, list, conflicts, disable, enable, roles, passwd, identities or unlink")}
	}
	sub, args := args[0], args[1:]
	fs, cfgPath := flags("user " + sub)
	var username, email string
	var roles multiFlag
	if sub == "add" {
		fs.StringVar(&username, "username", "", "username")
		fs.StringVar(&email, "email", "", "email address")
		fs.Var(&roles, "role", "role (repeatable)")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	want := map[string]int{"add": 0, "list": 0, "conflicts": 0, "disable": 1, "enable": 1, "roles": 2, "passwd": 1, "identities": 1, "unlink": 2}
	n, ok := want[sub]
	if !ok {
		return usageError{fmt.Errorf("unknown user command %q", sub)}
	}
	if fs.NArg() != n {
		return usageError{fmt.Errorf("user %s takes %d argument(s)", sub, n)}
	}
	cfg, err := gateway.Load(*cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	logger := gateway.NewLogger(os.Stderr, cfg.Log)
	admin, err := gateway.OpenAccounts(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer admin.Close()

	var u *accounts.User
	switch sub {
	case "add":
		if username == "" || email == "" {
			return usageError{errors.New("--username and --email are required")}
		}
		password, err := readPassword()
		if err != nil {
			return err
		}
		u, err = admin.AddUser(ctx, accounts.NewUser{Username: username, Email: email, Password: password, Roles: roles})
		if err != nil {
			return err
		}
	case "list":
		users, err := admin.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tACTIVE\tROLES\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\t%s\n", u.ID, u.Username, u.Email, u.IsActive,
				strings.Join(u.Roles, ","), u.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"))
		}
		return tw.Flush()
	case "conflicts":
		collisions, err := admin.Conflicts(ctx)
		if err != nil {
			return err
		}
		for _, c := range collisions {
			fmt.Println(c.Error())
		}
		if len(collisions) > 0 {
			return fmt.Errorf("%d set(s) of users rows are one account after normalisation: their logins are refused until they are renamed or merged", len(collisions))
		}
		fmt.Println("no conflicts")
		return nil
	case "identities":
		ids, err := admin.Identities(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPROVIDER\tISSUER\tSUBJECT\tEMAIL\tLINKED\tLAST SIGN-IN")
		for _, i := range ids {
			last := "-"
			if !i.LastLoginAt.IsZero() {
				last = i.LastLoginAt.Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.Provider, i.Issuer, i.Subject, i.Email,
				i.CreatedAt.Format("2006-01-02 15:04:05Z"), last)
		}
		return tw.Flush()
	case "unlink":
		id, perr := strconv.ParseInt(fs.Arg(1), 10, 64)
		if perr != nil {
			return usageError{fmt.Errorf("identity id %q is not a number: see authgate user identities", fs.Arg(1))}
		}
		if err := admin.Unlink(ctx, fs.Arg(0), id); err != nil {
			return err
		}
		fmt.Printf("unlink: identity %d of %s removed; its sessions are ended\n", id, fs.Arg(0))
		return nil
	case "disable", "enable":
		u, err = admin.SetActive(ctx, fs.Arg(0), sub == "enable")
	case "roles":
		var list []string
		for r := range strings.SplitSeq(fs.Arg(1), ",") {
			if r = strings.TrimSpace(r); r != "" {
				list = append(list, r)
			}
		}
		u, err = admin.SetRoles(ctx, fs.Arg(0), list)
	case "passwd":
		password, perr := readPassword()
		if perr != nil {
			return perr
		}
		u, err = admin.SetPassword(ctx, fs.Arg(0), password)
	}
	if err != nil {
		return err
	}
	fmt.Printf("%s: id=%d username=%s email=%s active=%t roles=%s\n", sub, u.ID, u.Username, u.Email, u.IsActive, strings.Join(u.Roles, ","))
	return nil
}

// readPassword reads one line from stdin: `echo "$PW" | authgate user add …`
// keeps the password out of the process list and shell history.
func readPassword() (string, error) {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(os.Stderr, "password (input is echoed; prefer piping it): ")
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

func keygen(args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	alg := fs.String("alg", "ES256", "ES256, RS256, EdDSA or HS256")
	if err := parse(fs, args); err != nil {
		return err
	}
	out, err := tokens.Keygen(*alg)
	if err != nil {
		return err
	}
	fmt.Print(out)
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
