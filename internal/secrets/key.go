package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeyFileName is the master key's file name inside the data directory.
const KeyFileName = "master.key"

// EnvMasterKey names the environment variable whose value LoadKey accepts in
// place of the key file.
const EnvMasterKey = "QWENRELAY_MASTER_KEY"

// LoadKey returns the master key. When fromEnv (the value of
// QWENRELAY_MASTER_KEY) is not empty it is the key, as 64 hex characters or
// the base64 of 32 bytes. Otherwise the key is read from
// <dataDir>/master.key (base64 of 32 bytes), which is created with fresh
// random bytes, mode 0600, when absent; created reports that. Creation is
// atomic and exclusive: processes racing on a first run all end up with the
// key of the one that won. A key file readable by group or others is refused.
func LoadKey(dataDir, fromEnv string) (key []byte, created bool, err error) {
	if v := strings.TrimSpace(fromEnv); v != "" {
		key, err := parseKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("secrets: load key: %s: %w", EnvMasterKey, err)
		}
		return key, false, nil
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err = readKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, created, err = createKeyFile(dataDir, path)
	if err != nil {
		return nil, false, err
	}
	return key, created, nil
}

// errKeyFormat never carries the rejected value.
var errKeyFormat = errors.New("want 64 hex characters or the base64 of 32 bytes (e.g. `openssl rand -base64 32`)")

// parseKey accepts 64 hex characters or any standard/URL base64 (padded or
// not) of exactly KeySize bytes.
func parseKey(v string) ([]byte, error) {
	if len(v) == 2*KeySize {
		if key, err := hex.DecodeString(v); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(v); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	return nil, errKeyFormat
}

// readKeyFile reads and checks an existing key file; a missing file yields
// an error wrapping fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: load key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: load key: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets: load key: %s has mode %#o, readable by group or others; run `chmod 600 %s`",
			path, st.Mode().Perm(), path)
	}
	buf, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("secrets: load key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(buf)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("secrets: load key: %s is corrupt: want the base64 of %d bytes", path, KeySize)
	}
	return key, nil
}

// createKeyFile writes a new random key to a temporary file, syncs it, and
// hard-links it into place; the link fails when the name exists, so only one
// racer wins and the others read the winner's complete file.
func createKeyFile(dataDir, path string) ([]byte, bool, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secrets: create key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secrets: create key: %w", err)
	}
	content := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	tmp, err := writeTemp(dataDir, content)
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp)

	err = os.Link(tmp, path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		// Another process won the race; its file is complete before it is linked.
		key, err := readKeyFile(path)
		return key, false, err
	default:
		// No hard links on this file system: fall back to an exclusive create.
		if err := writeExclusive(path, content); err != nil {
			if errors.Is(err, fs.ErrExist) {
				key, err := readKeyFile(path)
				return key, false, err
			}
			return nil, false, err
		}
	}
	syncDir(dataDir)
	return key, true, nil
}

func writeTemp(dir string, content []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".master.key-*.tmp")
	if err != nil {
		return "", fmt.Errorf("secrets: create key: %w", err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("secrets: create key: %w", err)
	}
	return name, nil
}

func writeExclusive(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("secrets: create key: %w", err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("secrets: create key: %w", err)
	}
	return nil
}

// syncDir makes the new directory entry durable; failures are ignored
// because some platforms cannot sync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
