package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/crypto/bcrypt"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/testenv"
)

func TestLoadUsers(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte("# users\ncarol:admin:"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	names := func(users []auth.User) string {
		var s []string
		for _, u := range users {
			s = append(s, u.Name+"/"+string(u.Role))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		api  config.API
		want string // users, or the start of the error
		warn bool
	}{
		{"inline", config.API{Users: "alice:predict:" + string(h) + ",bob:admin:" + string(h)}, "alice/predict bob/admin", false},
		{"file", config.API{UsersFile: file}, "carol/admin", false},
		{"both", config.API{Users: "alice:predict:" + string(h), UsersFile: file}, "alice/predict carol/admin", false},
		{"dev mode", config.API{DevMode: true}, "admin/admin predict/predict", true},
		{"dev mode keeps configured users", config.API{DevMode: true, Users: "admin:predict:" + string(h)}, "admin/predict predict/predict", true},
		{"none", config.API{}, "error: no API users", false},
		{"bad entry", config.API{Users: "alice:predict"}, "error: auth: PRODCAT_API_USERS line 1", false},
		{"missing file", config.API{UsersFile: file + ".none"}, "error: PRODCAT_API_USERS_FILE", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := test.NewNullLogger()
			users, err := loadUsers(tc.api, log)
			got := names(users)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			warned := false
			for _, e := range hook.AllEntries() {
				warned = warned || (e.Level == logrus.WarnLevel && strings.Contains(e.Message, "DEVELOPMENT CREDENTIALS"))
			}
			if warned != tc.warn {
				t.Errorf("loud dev-mode warning %v, want %v", warned, tc.warn)
			}
		})
	}
}

func TestPrintHash(t *testing.T) {
	var out bytes.Buffer
	if err := printHash(strings.NewReader("s3cret pass\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret pass")) != nil {
		t.Errorf("%q is not a hash of the password", h)
	}
	users, err := auth.ParseUsers("test", strings.NewReader("u:admin:"+h))
	if err != nil || len(users) != 1 {
		t.Errorf("the printed hash does not make a user entry: %v", err)
	}
	if err := printHash(strings.NewReader("\n"), &out); err == nil {
		t.Error("an empty password was hashed")
	}
}

// An S3 that accepts connections and never answers must not stop the API
// from starting: predictions wait for it, the registry does not.
func TestStartsWhileS3Hangs(t *testing.T) {
	testenv.Integration(t)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn // held open, never answered
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	cfg.S3.Endpoint = ln.Addr().String()
	cfg.API.DevMode, cfg.API.Users, cfg.API.UsersFile = true, "", ""
	log, hook := test.NewNullLogger()
	a, err := newApp(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("newApp with a hung S3: %v", err)
	}
	a.close()
	warned := false
	for _, e := range hook.AllEntries() {
		warned = warned || strings.Contains(e.Message, "artifact store does not answer yet")
	}
	if !warned {
		t.Error("no warning that the artifact store does not answer")
	}
}
