package accounts

import (
	_ "embed"
	"strings"
)

// commonPasswordsText is the refused-password list: one password a line,
// the first 4,293 entries, most common first, of SecLists'
// Passwords/Common-Credentials/10-million-password-list-top-10000.txt
// (https://github.com/danielmiessler/SecLists, MIT licence), itself drawn
// from public breach corpora. Entries shorter than the configured minimum
// length are refused by that rule anyway and cost nothing to keep.
//
//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords parses the embedded list into a set of folded forms
// (passwordFold), so that the comparison ignores case and width. NewUsers
// builds it once; nothing on the request path re-reads the list.
func commonPasswords() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(commonPasswordsText, "\n")+1)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		set[passwordFold(line)] = struct{}{}
	}
	return set
}
