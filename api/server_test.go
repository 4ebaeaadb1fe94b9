package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/registry"
)

// TestRoles checks every route's authentication and authorisation: public
// routes answer without credentials; the others answer 401 without them,
// and admin routes 403 to a predict user.
func TestRoles(t *testing.T) {
	h := newHarness(t)
	for _, rt := range h.srv.routes() {
		path := strings.NewReplacer("{name}", testModel, "{version}", "1", "{alias}", "production",
			"{id}", "nightly", "{file}", "app.js", "{$}", "").Replace(rt.pattern)
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			w := h.do(rt.method, path, anonymous, "")
			if rt.role == "" {
				if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
					t.Fatalf("public route answered %d", w.Code)
				}
				return
			}
			wantError(t, w, http.StatusUnauthorized, codeUnauthorized)
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			w = h.do(rt.method, path, asPredict, "")
			if rt.role == auth.RoleAdmin {
				msg := wantError(t, w, http.StatusForbidden, codeForbidden)
				if !strings.Contains(msg, "needs admin") {
					t.Errorf("403 message %q does not say what is needed", msg)
				}
			} else if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
				t.Errorf("predict user answered %d", w.Code)
			}
		})
	}
}

// A POST must declare a JSON body: a browser posts forms and text/plain
// across sites with its cached Basic credentials, and those must not move
// an alias (CSRF).
func TestPostNeedsJSONContentType(t *testing.T) {
	h := newHarness(t)
	body := `{"version": 2, "reason": "x"}`
	for _, tc := range []struct {
		ctype, site string
		status      int
		code        string
	}{
		{"", "", http.StatusUnsupportedMediaType, codeUnsupportedType},
		{"text/plain", "", http.StatusUnsupportedMediaType, codeUnsupportedType},
		{"application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType, codeUnsupportedType},
		{"multipart/form-data; boundary=x", "", http.StatusUnsupportedMediaType, codeUnsupportedType},
		{"application/jsonx", "", http.StatusUnsupportedMediaType, codeUnsupportedType},
		{"application/json; charset=latin1", "", http.StatusUnsupportedMediaType, codeUnsupportedType},
		{"application/json", "cross-site", http.StatusForbidden, codeForbidden},
	} {
		r := httptest.NewRequest("POST", "/v1/models/prdtypecode/aliases/production", strings.NewReader(body))
		r.SetBasicAuth(adminUser, adminPass)
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		wantError(t, w, tc.status, tc.code)
	}
	h.reg.mu.Lock()
	prod, moves := h.reg.aliases[registry.AliasProduction], len(h.reg.history)
	h.reg.mu.Unlock()
	if prod != 1 || moves != 1 {
		t.Fatalf("refused requests moved production to %d (%d moves)", prod, moves)
	}
	// A DELETE has no body to check, but a cross-site one is refused too.
	r := httptest.NewRequest("DELETE", "/v1/schedules/nightly", nil)
	r.SetBasicAuth(adminUser, adminPass)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	wantError(t, w, http.StatusForbidden, codeForbidden)
	if len(h.sched.deleted) != 0 {
		t.Errorf("a cross-site DELETE deleted %v", h.sched.deleted)
	}
	// Empty bodies too: a schedule action takes an optional one.
	r = httptest.NewRequest("POST", "/v1/schedules/nightly/trigger", nil)
	r.SetBasicAuth(adminUser, adminPass)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	wantError(t, w, http.StatusUnsupportedMediaType, codeUnsupportedType)

	// Bytes that are not UTF-8 are refused, not turned into U+FFFD.
	r = httptest.NewRequest("POST", "/v1/predict", strings.NewReader("{\"designation\": \"chaise en h\xeatre\"}"))
	r.SetBasicAuth(predictUser, predictPass)
	r.Header.Set("Content-Type", "application/json")
	w = httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	if msg := wantError(t, w, http.StatusBadRequest, codeInvalidJSON); !strings.Contains(msg, "not UTF-8") {
		t.Errorf("Latin-1 body: %q", msg)
	}

	for _, ctype := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json; charset=UTF-8"} {
		r := httptest.NewRequest("POST", "/v1/predict", strings.NewReader(`{"designation": "chaise de jardin"}`))
		r.SetBasicAuth(predictUser, predictPass)
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("Content-Type %q: %d %s, want 200", ctype, w.Code, w.Body)
		}
	}
}

// Load balancers probe with HEAD.
func TestHeadOnGetRoutes(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/livez", "/readyz", "/openapi.json"} {
		w := h.do("HEAD", path, anonymous, "")
		if w.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d, want 200", path, w.Code)
		}
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	h := newHarness(t)
	wantError(t, h.do("GET", "/v2/predict", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("GET", "/static/nope.js", anonymous, ""), http.StatusNotFound, codeNotFound)

	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/v1/predict", "POST"},
		{"DELETE", "/v1/models", "GET, HEAD"},
		{"PUT", "/v1/trainings", "GET, HEAD, POST"},
		{"GET", "/v1/models/m/aliases/production", "POST"},
		{"POST", "/livez", "GET, HEAD"},
	} {
		w := h.do(tc.method, tc.path, asAdmin, "")
		wantError(t, w, http.StatusMethodNotAllowed, codeMethodNotAllowed)
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

func TestHealth(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/livez", anonymous, "")
	if w.Code != 200 {
		t.Fatalf("livez %d", w.Code)
	}
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q on a JSON answer, want nosniff", got)
	}

	type readiness struct {
		Status       string   `json:"status"`
		Model        modelRef `json:"model"`
		Registry     string   `json:"registry"`
		AliasVersion int      `json:"alias_version"`
	}
	var ready readiness
	w = h.do("GET", "/readyz", anonymous, "")
	decodeBody(t, w, &ready)
	if w.Code != 200 || ready != (readiness{"ready", modelRef{testModel, 1}, "ok", 0}) {
		t.Fatalf("readyz %d %+v", w.Code, ready)
	}
	// Production points at a version that could not be loaded: still
	// ready with the older one, and it says so.
	h.models.mu.Lock()
	h.models.behind = 2
	h.models.mu.Unlock()
	w = h.do("GET", "/readyz", anonymous, "")
	decodeBody(t, w, &ready)
	if w.Code != 200 || ready.Model.Version != 1 || ready.AliasVersion != 2 {
		t.Errorf("readyz while behind the alias: %d %+v; want v1 served and alias_version 2", w.Code, ready)
	}
	h.models.mu.Lock()
	h.models.behind = 0
	h.models.mu.Unlock()
	ready.AliasVersion = 0

	// Predictions do not need the registry: still ready, and it says so.
	// The outage is logged once when it starts and once when it ends, not
	// on every probe.
	h.logs.Reset()
	h.reg.down = errors.New(errDownText)
	for range 3 {
		w = h.do("GET", "/readyz", anonymous, "")
		decodeBody(t, w, &ready)
		if w.Code != 200 || ready.Registry != "unavailable" {
			t.Fatalf("readyz with the registry down: %d %+v", w.Code, ready)
		}
	}
	h.reg.down = nil
	for range 2 {
		h.do("GET", "/readyz", anonymous, "")
	}
	var levels []logrus.Level
	for _, e := range h.logs.AllEntries() {
		if strings.Contains(e.Message, "readiness") {
			levels = append(levels, e.Level)
		}
	}
	if !slices.Equal(levels, []logrus.Level{logrus.WarnLevel, logrus.InfoLevel}) {
		t.Errorf("readiness logs over an outage: %v, want one warning then one info", levels)
	}

	h.models.set(nil)
	h.logs.Reset()
	msg := wantError(t, h.do("GET", "/readyz", anonymous, ""), http.StatusServiceUnavailable, codeNotReady)
	if !strings.Contains(msg, "no model") {
		t.Errorf("readyz without a model: %q", msg)
	}
	// Probes ask every few seconds: not being ready is no error to log.
	for _, e := range h.logs.AllEntries() {
		if e.Level <= logrus.WarnLevel {
			t.Errorf("readyz without a model logged %s %q", e.Level, e.Message)
		}
	}
	h.models.set(h.model)

	if w := h.do("GET", "/livez", anonymous, ""); w.Header().Get("Connection") != "" {
		t.Errorf("Connection: %q before draining", w.Header().Get("Connection"))
	}
	h.srv.draining.Store(true)
	wantError(t, h.do("GET", "/readyz", anonymous, ""), http.StatusServiceUnavailable, codeNotReady)
	if w := h.do("GET", "/livez", anonymous, ""); w.Code != 200 || w.Header().Get("Connection") != "close" {
		t.Errorf("livez while draining: %d, Connection %q; want 200 closing the connection", w.Code, w.Header().Get("Connection"))
	}
}

// With PRODCAT_METRICS_TOKEN set, /metrics needs it as a bearer token.
func TestMetricsToken(t *testing.T) {
	h := newHarness(t)
	h.srv.metricsToken = "s3cret-scrape-token"
	get := func(authz string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		return w
	}
	for _, authz := range []string{"", "Bearer wrong", "Bearer s3cret-scrape-token2", "Basic " + "czNjcmV0LXNjcmFwZS10b2tlbg=="} {
		w := get(authz)
		wantError(t, w, http.StatusUnauthorized, codeUnauthorized)
		if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%q: challenge %q, want Bearer", authz, w.Header().Get("WWW-Authenticate"))
		}
	}
	if w := get("Bearer s3cret-scrape-token"); w.Code != 200 || !strings.Contains(w.Body.String(), "prodcat_http_requests_total") {
		t.Fatalf("with the token: %d", w.Code)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	for range 3 {
		h.do("POST", "/v1/predict", asPredict, `{"designation": "Pompe de filtration pour piscine"}`)
	}
	h.do("POST", "/v1/predict", asPredict, `{"designation": 1}`)
	h.do("POST", "/v1/predict", anonymous, `{}`)
	h.do("GET", "/nowhere", anonymous, "")
	h.do("GET", "/v1/predict", anonymous, "")
	h.srv.metrics.observeReload("failure")
	w := h.do("GET", "/metrics", anonymous, "")
	if w.Code != 200 {
		t.Fatalf("metrics %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`prodcat_http_requests_total{code="200",route="POST /v1/predict"} 3`,
		`prodcat_http_requests_total{code="400",route="POST /v1/predict"} 1`,
		`prodcat_http_requests_total{code="401",route="POST /v1/predict"} 1`,
		`prodcat_http_requests_total{code="404",route="unmatched"} 1`,
		`prodcat_http_requests_total{code="405",route="/v1/predict"} 1`,
		`prodcat_http_request_duration_seconds_count{code="200",route="POST /v1/predict"} 3`,
		`prodcat_predictions_total{class="2583"} 3`,
		`prodcat_model_version{model="prdtypecode"} 1`,
		`prodcat_model_production_unserved_version{model="prdtypecode"} 0`,
		`prodcat_model_reloads_total{result="failure"} 1`,
		`prodcat_model_reloads_total{result="success"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	h.models.mu.Lock()
	h.models.behind = 4 // production is v4, which could not be loaded
	h.models.mu.Unlock()
	if body := h.do("GET", "/metrics", anonymous, "").Body.String(); !strings.Contains(body, `prodcat_model_production_unserved_version{model="prdtypecode"} 4`) {
		t.Error("the unserved production version is not exported")
	}
	h.models.set(nil)
	if body := h.do("GET", "/metrics", anonymous, "").Body.String(); !strings.Contains(body, `prodcat_model_version{model="prdtypecode"} 0`) {
		t.Error("model version is not 0 without a model")
	}
}

func TestRouteMetricsOddStatus(t *testing.T) {
	h := newHarness(t)
	rm := h.srv.metrics.route("GET /x")
	rm.observe(999, 0.1) // out of range: counted as 500
	rm.observe(0, 0.1)
	w := h.do("GET", "/metrics", anonymous, "")
	if !strings.Contains(w.Body.String(), `prodcat_http_requests_total{code="500",route="GET /x"} 2`) {
		t.Error("odd status codes are not counted as 500")
	}
}

func TestPanicIsRecovered(t *testing.T) {
	h := newHarness(t)
	h.reg.panics = true
	wantError(t, h.do("GET", "/v1/models", asPredict, ""), http.StatusInternalServerError, codeInternal)
	found := false
	for _, e := range h.logs.AllEntries() {
		if e.Message == "api: handler panicked" && e.Level == logrus.ErrorLevel && e.Data["stack"] != nil {
			found = true
		}
	}
	if !found {
		t.Error("the panic is not logged with its stack")
	}
	h.reg.panics = false
	if w := h.do("GET", "/v1/models", asPredict, ""); w.Code != 200 {
		t.Errorf("after a panic: %d", w.Code)
	}
}

func TestDependencyFailureIsLoggedNotShown(t *testing.T) {
	h := newHarness(t)
	h.reg.down = fmt.Errorf("registry: cannot reach PostgreSQL at 10.1.2.3:5432: %w", syscall.ECONNREFUSED)
	w := h.do("GET", "/v1/models", asPredict, "")
	msg := wantError(t, w, http.StatusServiceUnavailable, codeUnavailable)
	if strings.Contains(msg, "10.1.2.3") {
		t.Errorf("the answer shows internal details: %q", msg)
	}
	if ra := w.Header().Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After %q, want 5", ra)
	}
	// A warning naming the dependency: the outage is not the API's failure.
	last := h.logs.LastEntry()
	if last == nil || last.Level != logrus.WarnLevel || last.Data["dependency"] != "postgresql" || !strings.Contains(last.Data[logrus.ErrorKey].(error).Error(), "10.1.2.3") {
		t.Errorf("the cause is not logged: %+v", last)
	}
	// Another failure of a dependency is an error of ours to look into, and
	// no retry is promised.
	h.reg.down = errors.New(`registry: pq: relation "model_versions" does not exist`)
	w = h.do("GET", "/v1/models", asPredict, "")
	wantError(t, w, http.StatusServiceUnavailable, codeUnavailable)
	if ra := w.Header().Get("Retry-After"); ra != "" {
		t.Errorf("Retry-After %q for a failure waiting does not mend", ra)
	}
	if last := h.logs.LastEntry(); last == nil || last.Level != logrus.ErrorLevel {
		t.Errorf("a dependency's failure is not logged as an error: %+v", last)
	}
}

// A client that hangs up while its password is checked is not an outage:
// no Error line, and a 499 in the metrics.
func TestClientGoneIsNotAFailure(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, "GET", "/v1/models", nil)
	r.SetBasicAuth(adminUser, "not the password") // not cached: needs bcrypt
	h.h.ServeHTTP(httptest.NewRecorder(), r)
	for _, e := range h.logs.AllEntries() {
		if e.Level <= logrus.WarnLevel {
			t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.Data)
		}
	}
	w := h.do("GET", "/metrics", anonymous, "")
	if !strings.Contains(w.Body.String(), `prodcat_http_requests_total{code="499",route="GET /v1/models"} 1`) {
		t.Error("the abandoned request is not counted as 499")
	}
}

// busyAuth answers every check as auth.Authenticator does when its queue
// of password checks is full.
type busyAuth struct{}

func (busyAuth) Authenticate(context.Context, string) (*auth.Principal, error) {
	return nil, fmt.Errorf("auth: %w", auth.ErrBusy)
}

// A full queue of password checks sheds the request: 503 with Retry-After,
// logged as a warning, not as an error.
func TestShedRequestGetsRetryAfter(t *testing.T) {
	h := newHarness(t)
	h.srv.auth = busyAuth{}
	w := h.do("GET", "/v1/models", asAdmin, "")
	wantError(t, w, http.StatusServiceUnavailable, codeUnavailable)
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if last := h.logs.LastEntry(); last == nil || last.Level != logrus.WarnLevel {
		t.Errorf("logged %+v, want a warning", last)
	}
}

func TestDemoPage(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/", anonymous, "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("demo page: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	page := w.Body.String()
	for _, want := range []string{`id="predict-form"`, `id="versions"`, `id="trainings"`, `id="train-form"`,
		`data-model="prdtypecode"`, "prdtypecode v1", `href="http://temporal-ui/namespaces/default/workflows"`, `src="/static/app.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// No asset comes from elsewhere.
	if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//[^"]*"`).FindAllString(page, -1); len(m) != 1 {
		t.Errorf("external references %v, want only the Temporal UI link", m)
	}
	h.models.set(nil)
	if !strings.Contains(h.do("GET", "/", anonymous, "").Body.String(), "no model loaded yet") {
		t.Error("page without a model does not say so")
	}

	for file, ctype := range map[string]string{"app.js": "text/javascript", "style.css": "text/css"} {
		w := h.do("GET", "/static/"+file, anonymous, "")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) || w.Body.Len() == 0 {
			t.Errorf("%s: %d %q", file, w.Code, w.Header().Get("Content-Type"))
		}
	}
}

func TestWhoami(t *testing.T) {
	h := newHarness(t)
	var me struct {
		User string    `json:"user"`
		Role auth.Role `json:"role"`
	}
	decodeBody(t, h.do("GET", "/v1/whoami", asAdmin, ""), &me)
	if me.User != adminUser || me.Role != auth.RoleAdmin {
		t.Errorf("whoami %+v", me)
	}
}

// TestOpenAPIMatchesRoutes keeps openapi.json in step with the routes:
// the same operations, the same authentication and roles, and no dangling
// references.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/openapi.json", anonymous, "")
	if w.Code != 200 {
		t.Fatalf("openapi.json: %d", w.Code)
	}
	var doc struct {
		OpenAPI string                                 `json:"openapi"`
		Paths   map[string]map[string]openAPIOperation `json:"paths"`
		Comps   map[string]map[string]json.RawMessage  `json:"components"`
		Extra   map[string]json.RawMessage             `json:"-"`
	}
	raw := w.Body.Bytes()
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// encoding/json keeps the last of two keys alike, as clients do: a
	// name given twice hides the first definition.
	if dup := duplicateKey(t, raw); dup != "" {
		t.Errorf("the document gives %s twice", dup)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]openAPIOperation{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	routed := map[string]route{}
	for _, rt := range h.srv.routes() {
		if !rt.internal {
			routed[rt.method+" "+rt.pattern] = rt
		}
	}
	for key, rt := range routed {
		op, ok := documented[key]
		if !ok {
			t.Errorf("%s is routed but not documented", key)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != (rt.role == "") {
			t.Errorf("%s: documented public %v, routed role %q", key, public, rt.role)
		}
		if !public && op.Role != string(rt.role) {
			t.Errorf("%s: documented x-required-role %q, routed %q", key, op.Role, rt.role)
		}
		if !public {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: 401 not documented", key)
			}
			// Query parameters a route does not take are refused.
			if _, ok := op.Responses["400"]; !ok {
				t.Errorf("%s: 400 not documented", key)
			}
		}
		if rt.role == auth.RoleAdmin {
			if _, ok := op.Responses["403"]; !ok {
				t.Errorf("%s: 403 not documented", key)
			}
		}
		// The query parameters documented are the ones the route takes
		// (others are refused).
		var params []struct{ Name, In string }
		if len(op.Params) > 0 {
			if err := json.Unmarshal(op.Params, &params); err != nil {
				t.Fatalf("%s: parameters: %v", key, err)
			}
		}
		var query []string
		for _, p := range params {
			if p.In == "query" {
				query = append(query, p.Name)
			}
		}
		if rt.role != "" && !slices.Equal(query, rt.query) {
			t.Errorf("%s: documented query parameters %q, routed %q", key, query, rt.query)
		}
		for _, p := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(rt.pattern, -1) {
			if !strings.Contains(string(op.Params), `"name": "`+p[1]+`"`) && !strings.Contains(string(op.Params), `"name":"`+p[1]+`"`) &&
				!strings.Contains(string(op.Params), "#/components/parameters/") {
				t.Errorf("%s: path parameter %s not documented", key, p[1])
			}
		}
	}
	for key := range documented {
		if _, ok := routed[key]; !ok {
			t.Errorf("%s is documented but not routed", key)
		}
	}
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Comps[ref[1]][ref[2]]; !ok {
			t.Errorf("dangling reference %s", ref[0])
		}
	}
}

// duplicateKey returns the path of the first key an object of the JSON
// document doc gives twice, or "".
func duplicateKey(t *testing.T, doc []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		keys   map[string]bool
		object bool
		key    string // the key whose value is being read
		path   string
	}
	var stack []*frame
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key == "" }
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				path := ""
				if n := len(stack); n > 0 {
					path = stack[n-1].path + "/" + stack[n-1].key
				}
				stack = append(stack, &frame{keys: map[string]bool{}, object: v == '{', path: path})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey() {
				f := stack[len(stack)-1]
				if f.keys[v] {
					return f.path + "/" + v
				}
				f.keys[v], f.key = true, v
				continue
			}
		}
		// A value ended: the object it was in wants a key next.
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].key = ""
		}
	}
}

type openAPIOperation struct {
	Security  *[]map[string][]string     `json:"security"`
	Role      string                     `json:"x-required-role"`
	Responses map[string]json.RawMessage `json:"responses"`
	Params    json.RawMessage            `json:"parameters"`
}

// TestGracefulShutdown starts a real HTTP server, holds a request inside
// its handler, shuts down, and checks that the request still gets its
// answer while new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	h := newHarness(t)
	h.reg.block, h.reg.entered = make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	hs := &http.Server{Handler: h.h}
	go func() { served <- serveHTTP(ctx, hs, startServing(hs, ln), h.srv, 0, shutdownTimeout, logrus.New()) }()

	type answer struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", addr+"/v1/models", nil)
		req.SetBasicAuth(predictUser, predictPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- answer{resp.StatusCode, string(b), err}
	}()
	<-h.reg.entered // the request is inside its handler
	cancel()
	for !h.srv.draining.Load() {
		time.Sleep(time.Millisecond) // serveHTTP marks draining before it stops listening
	}
	// Shutdown closes the listener; wait until new connections fail.
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	select {
	case a := <-inflight:
		t.Fatalf("the in-flight request ended before it was released: %+v", a)
	default:
	}
	close(h.reg.block)
	a := <-inflight
	if a.err != nil || a.status != 200 || !strings.Contains(a.body, `"models"`) {
		t.Fatalf("in-flight request: %+v", a)
	}
	if err := <-served; err != nil {
		t.Fatalf("serveHTTP: %v", err)
	}
}

// TestDrainDelayKeepsServingWithReadyzFailing stops a server that has a
// drain delay and checks that, after the stop, /readyz answers 503 over a
// new connection (so a load balancer can see it) before the server ends.
func TestDrainDelayKeepsServingWithReadyzFailing(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	hs := &http.Server{Handler: h.h}
	go func() {
		served <- serveHTTP(ctx, hs, startServing(hs, ln), h.srv, 3*time.Second, shutdownTimeout, logrus.New())
	}()
	ready := func() int {
		resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			t.Fatalf("readyz while draining: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz before the stop: %d", got)
	}
	cancel()
	for !h.srv.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %d, want 503", got)
	}
	if err := <-served; err != nil {
		t.Fatalf("serveHTTP: %v", err)
	}
}

func TestRoutesAreUnique(t *testing.T) {
	h := newHarness(t)
	var keys []string
	for _, rt := range h.srv.routes() {
		keys = append(keys, rt.method+" "+rt.pattern)
	}
	slices.Sort(keys)
	if c := slices.Compact(slices.Clone(keys)); len(c) != len(keys) {
		t.Errorf("duplicate routes in %v", keys)
	}
}

// A wrong password is logged with the user name it was tried for and
// where it came from; the password is not. The name stays on one log line.
func TestBadCredentialsAreLogged(t *testing.T) {
	h := newHarness(t)
	h.logs.Reset()
	wantError(t, h.doAuth("GET", "/v1/whoami", "mallory\n", "guess-123", ""), http.StatusUnauthorized, codeUnauthorized)
	var found bool
	for _, e := range h.logs.AllEntries() {
		if e.Message != "api: wrong user name or password" {
			continue
		}
		found = true
		if e.Data["user"] != "mallory\n" || e.Data["remote"] == "" || strings.Contains(fmt.Sprint(e.Data), "guess-123") {
			t.Errorf("log fields %v", e.Data)
		}
		line, err := (&logrus.JSONFormatter{}).Format(e)
		if err != nil || bytes.Count(line, []byte("\n")) != 1 || !bytes.Contains(line, []byte(`"user":"mallory\n"`)) {
			t.Errorf("JSON log line %q, %v", line, err)
		}
	}
	if !found {
		t.Error("a wrong password was not logged")
	}
}

// Registry refusals reach the caller without the package's prefix, and
// without ": conflict" after a reason; "not found" stays, as it is often
// all a message says.
func TestClientMessage(t *testing.T) {
	for in, want := range map[error]string{
		fmt.Errorf("registry: roll back alias p of m: its last move is 5, not 4: %w", registry.ErrConflict): "roll back alias p of m: its last move is 5, not 4",
		fmt.Errorf("registry: version 99 of m: %w", registry.ErrNotFound):                                   "version 99 of m: not found",
		fmt.Errorf("registry: roll back alias p of m: move 0: %w", registry.ErrInvalid):                     "roll back alias p of m: move 0: invalid input",
	} {
		if got := clientMessage(in); got != want {
			t.Errorf("clientMessage(%q) = %q, want %q", in, got, want)
		}
	}
}
