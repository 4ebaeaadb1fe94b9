package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/crypto/bcrypt"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
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

// An API with no users stops at once with a settings error, which main
// turns into exit status 2, before it reaches for any service.
func TestRunWithoutUsersIsASettingsError(t *testing.T) {
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.API = config.API{Addr: "127.0.0.1:0"}
	cfg.DatabaseURL = "postgres://nobody@127.0.0.1:1/none" // never reached
	log, _ := test.NewNullLogger()
	err = run(t.Context(), cfg, log)
	if !errors.As(err, new(settingsError)) || !strings.Contains(err.Error(), "no API users") {
		t.Errorf("run without users: %v, want a settings error naming the missing users", err)
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
	a, err := newApp(t.Context(), cfg, log, newMetrics())
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

// While it waits for PostgreSQL the API is alive but not ready, so a
// liveness probe does not restart it in a loop; once PostgreSQL answers it
// serves the API, and a stop ends it.
func TestAliveWhileWaitingForTheRegistry(t *testing.T) {
	testenv.Integration(t)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	// PostgreSQL is reached through a port that nothing serves at first.
	real, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	dbAddr := free()
	via := *real
	via.Host = dbAddr
	cfg.DatabaseURL = via.String()
	cfg.API.Addr = free()
	cfg.API.DevMode, cfg.API.Users, cfg.API.UsersFile = true, "", ""
	cfg.ModelName = servingtest.RandomName("apitest-") // no production model
	log, _ := test.NewNullLogger()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, log) }()

	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get("http://" + cfg.API.Addr + path)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for i := 0; ; i++ {
		if code, _, _ := get("/livez"); code != 0 {
			break
		}
		if i == 100 {
			t.Fatal("the API does not listen while it waits for the registry")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body, _ := get("/livez"); code != http.StatusOK || !strings.Contains(body, `"starting"`) {
		t.Errorf("/livez: %d %s", code, body)
	}
	// Scraped meanwhile, so the wait shows.
	if code, body, _ := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "prodcat_model_reloads_total") {
		t.Errorf("/metrics while starting: %d %.200s", code, body)
	}
	for _, path := range []string{"/readyz", "/v1/models"} {
		code, body, h := get(path)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for the model registry") || h.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s %v", path, code, body, h)
		}
	}

	// PostgreSQL comes up: the API behind it takes over.
	forward(t, dbAddr, real.Host)
	for i := 0; ; i++ {
		if _, body, _ := get("/livez"); strings.Contains(body, `"ok"`) {
			break
		}
		if i == 600 {
			t.Fatal("the API did not take over within a minute of PostgreSQL answering")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body, _ := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no model loaded") {
		t.Errorf("/readyz with no production model: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after a stop while waiting: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return after the stop")
	}
	if code, _, _ := get("/livez"); code != 0 {
		t.Error("still listening after run returned")
	}
}

// forward relays TCP connections from listen to target until the test ends.
func forward(t *testing.T, listen, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
}

// A registry call on a hung PostgreSQL ends within registry.ReadTimeout;
// its 503 must reach the caller before the server's write deadline cuts
// the connection, or an alias move's caller cannot tell what happened.
func TestWriteTimeoutOutlastsTheRegistry(t *testing.T) {
	if writeTimeout < registry.ReadTimeout+10*time.Second {
		t.Errorf("write timeout %v, registry read timeout %v: want 10 s of room at least", writeTimeout, registry.ReadTimeout)
	}
}

// While the API starts, /metrics wants the token as it does later.
func TestStartingMetricsNeedTheToken(t *testing.T) {
	h := starting(newMetrics(), "s3cret")
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "Bearer nope", http.StatusUnauthorized},
		{"/metrics", "Bearer s3cret", http.StatusOK},
		{"/livez", "", http.StatusOK},
		{"/readyz", "", http.StatusServiceUnavailable},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("%s with %q: %d, want %d", tc.path, tc.auth, w.Code, tc.code)
		}
	}
}
