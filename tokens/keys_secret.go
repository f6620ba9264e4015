package tokens

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// loadOrCreateSecret returns the HS256 secret kept in file, generating it
// on first start. The file is created 0600 in a directory created 0700, and
// published with a hard link so that two instances starting at once never
// see a half-written secret: the second one to link reads the first one's.
func (t *AccessTokens) loadOrCreateSecret(file string) (secret []byte, generated bool, err error) {
	secret, err = readSecretFile(file)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}

	var raw [32]byte
	if _, err := io.ReadFull(t.rand, raw[:]); err != nil {
		return nil, false, fmt.Errorf("generate a secret: %w", err)
	}
	encoded := base64.RawURLEncoding.EncodeToString(raw[:])

	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("generate a secret: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-*") // 0600
	if err != nil {
		return nil, false, fmt.Errorf("generate a secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(encoded + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("generate a secret: %w", err)
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		if errors.Is(err, fs.ErrExist) {
			secret, err = readSecretFile(file)
			return secret, false, err
		}
		return nil, false, fmt.Errorf("generate a secret: %w", err)
	}
	return []byte(encoded), true, nil
}

// readSecretFile reads a kept secret and refuses one that others could
// read or that breaks the HS256 key rules.
func readSecretFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s is readable by group or others (mode %04o): chmod 600 it", file, mode)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, err
	}
	secret := []byte(strings.TrimSpace(string(data)))
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("the secret in %s %w", file, err)
	}
	return secret, nil
}
