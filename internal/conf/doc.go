// Package conf holds the few config building blocks that every section of
// authgate's YAML shares: durations, the path-addressed problems that
// validation reports (the loader turns their paths into file:line:col),
// and the check of a file the config names.
//
// It imports nothing of authgate's and must never: every package that owns
// a config section uses it.
package conf
