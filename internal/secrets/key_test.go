package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadKeyFromEnv(t *testing.T) {
	want := bytes.Repeat([]byte{0xab}, KeySize)
	valid := map[string]string{
		"hex":             hex.EncodeToString(want),
		"hex upper":       strings.ToUpper(hex.EncodeToString(want)),
		"base64":          base64.StdEncoding.EncodeToString(want),
		"base64 raw":      base64.RawStdEncoding.EncodeToString(want),
		"base64 url":      base64.URLEncoding.EncodeToString(want),
		"surrounding ws":  "  " + hex.EncodeToString(want) + "\n",
		"base64 url, raw": base64.RawURLEncoding.EncodeToString(want),
	}
	dir := t.TempDir()
	for name, v := range valid {
		t.Run(name, func(t *testing.T) {
			got, created, err := LoadKey(dir, v)
			if err != nil {
				t.Fatal(err)
			}
			if created || !bytes.Equal(got, want) {
				t.Fatalf("got %x created=%v", got, created)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("env key wrote a key file: %v", err)
	}

	invalid := map[string]string{
		"short hex":       hex.EncodeToString(want[:16]),
		"bad hex":         strings.Repeat("zz", KeySize),
		"base64 16 bytes": base64.StdEncoding.EncodeToString(want[:16]),
		"passphrase":      "correct horse battery staple",
	}
	for name, v := range invalid {
		t.Run(name, func(t *testing.T) {
			_, _, err := LoadKey(dir, v)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, v) {
				t.Errorf("error echoes the value: %v", err)
			}
			if !strings.Contains(msg, "64 hex") || !strings.Contains(msg, "base64") || !strings.Contains(msg, EnvMasterKey) {
				t.Errorf("error does not name the variable and accepted formats: %v", err)
			}
		})
	}
}

func TestLoadKeyCreatesAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	key, created, err := LoadKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(key) != KeySize {
		t.Fatalf("created=%v len=%d", created, len(key))
	}
	path := filepath.Join(dir, KeyFileName)
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %#o, want 0600", st.Mode().Perm())
		}
		dst, _ := os.Stat(dir)
		if dst.Mode().Perm() != 0o700 {
			t.Errorf("data dir mode %#o, want 0700", dst.Mode().Perm())
		}
	}
	again, created, err := LoadKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if created || !bytes.Equal(again, key) {
		t.Fatal("second load did not reuse the key file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key file (temp files left?)", len(entries))
	}
}

func TestLoadKeyRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX permissions")
	}
	dir := t.TempDir()
	if _, _, err := LoadKey(dir, ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFileName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadKey(dir, "")
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v, want a chmod 600 hint", err)
	}
}

func TestLoadKeyRejectsCorruptFile(t *testing.T) {
	dir := t.TempDir()
	const content = "not-a-key-but-maybe-a-secret"
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadKey(dir, "")
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("err = %v, want corrupt", err)
	}
	if strings.Contains(err.Error(), content) {
		t.Fatal("error echoes the file content")
	}
}

func TestLoadKeyConcurrentFirstRun(t *testing.T) {
	for range 20 {
		dir := filepath.Join(t.TempDir(), "d")
		const n = 16
		keys := make([][]byte, n)
		creators := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				keys[i], creators[i], errs[i] = LoadKey(dir, "")
			})
		}
		close(start)
		wg.Wait()
		nCreated := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("goroutine %d got a different key", i)
			}
			if creators[i] {
				nCreated++
			}
		}
		if nCreated != 1 {
			t.Fatalf("%d goroutines report creating the key, want 1", nCreated)
		}
	}
}
