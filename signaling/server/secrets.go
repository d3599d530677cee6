package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files in DataDir, each made on first start (mode 0600). Nodes that share
// one NATS share them too (copy them).
const (
	secretFile     = "token_secret" // signs the tokens
	apiKeyFile     = "api_key"      // the default team's API key, unless Config.APIKey
	turnSecretFile = "turn_secret"  // the key of the TURN credentials (package turn)
)

// keysEqual compares two API keys in constant time (of their hashes, so
// that not even the length leaks).
func keysEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// loadSecret reads the token secret from dir, making one on first start.
func loadSecret(dir string) ([]byte, error) {
	s, _, err := loadOrCreate(filepath.Join(dir, secretFile), func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		return hex.EncodeToString(b)
	})
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("server: %s is damaged: remove it to make a new one (every token issued so far "+
			"stops working)",
			filepath.Join(dir, secretFile))
	}
	return b, nil
}

// loadTURNSecret reads the TURN credentials' secret from dir, making one
// on first start.
func loadTURNSecret(dir string) (string, error) {
	s, _, err := loadOrCreate(filepath.Join(dir, turnSecretFile), func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	})
	return s, err
}

// loadAPIKey reads the API key from dir, generating one when there is none;
// generated says whether it did.
func loadAPIKey(dir string) (key string, generated bool, err error) {
	return loadOrCreate(filepath.Join(dir, apiKeyFile), rand.Text)
}

// loadOrCreate returns the trimmed content of path, or, when it does not
// exist, writes generate() there with mode 0600 and returns it with created
// true. A file that another process creates at the same moment wins.
func loadOrCreate(path string, generate func() string) (value string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", false, fmt.Errorf("server: %s is empty: remove it to make a new one", path)
		}
		return v, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("server: %w", err)
	}
	v := generate()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreate(path, generate)
	}
	if err != nil {
		return "", false, fmt.Errorf("server: %w", err)
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		_ = f.Close()
		os.Remove(path)
		return "", false, fmt.Errorf("server: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("server: write %s: %w", path, err)
	}
	return v, true, nil
}
