package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/internal/serving"
	"github.com/prodcat/prodcat/workflows"
)

// The server's dependencies, as interfaces so that handler tests can use
// fakes; main wires in the registry, the artifact store, the reloader and
// the Temporal-backed trainer and schedule manager.

// modelSource returns the model being served, nil before one is loaded,
// and the alias's version when it could not be served (0 otherwise).
type modelSource interface {
	Current() *serving.Model
	Behind() int
	Loading() bool
}

// modelRegistry is what the API reads and moves in the registry.
type modelRegistry interface {
	Ping(ctx context.Context) error
	Models(ctx context.Context) ([]registry.Model, error)
	Versions(ctx context.Context, model string) ([]registry.Version, error)
	Version(ctx context.Context, model string, v int) (registry.Version, error)
	Dataset(ctx context.Context, digest string) (registry.Dataset, error)
	Aliases(ctx context.Context, model string) (map[string]int, error)
	AliasHistory(ctx context.Context, model string) ([]registry.AliasMove, error)
	SetAlias(ctx context.Context, model, alias string, version int, reason, actor string) (registry.AliasMove, error)
	CompareAndSetAlias(ctx context.Context, model, alias string, expected, version int, reason, actor string) (registry.AliasMove, error)
	RemoveAlias(ctx context.Context, model, alias string, expected int, reason, actor string) (registry.AliasMove, error)
	registry.Rollbacker
	Feed(ctx context.Context, feed string) (registry.FeedVersion, error)
	FeedHistory(ctx context.Context, feed string) ([]registry.FeedVersion, error)
	Feeds(ctx context.Context) ([]registry.FeedVersion, error)
	PublishFeed(ctx context.Context, feed string, source json.RawMessage, actor, note string) (registry.FeedVersion, bool, error)
}

// artifacts reads evaluation reports, checks training inputs and stores
// uploaded data.
type artifacts interface {
	GetMax(ctx context.Context, key string, max int64) ([]byte, error)
	Verify(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) (bool, error)
	Head(ctx context.Context, key string, n int64) ([]byte, error)
	PutFile(ctx context.Context, kind, path, ext, contentType string) (artifact.Ref, error)
}

// trainer starts and inspects TrainingPipeline runs.
type trainer interface {
	Start(ctx context.Context, id string, p workflows.TrainingParams) (training, error)
	// Get reads run runID of workflow id, or its latest run when runID is
	// empty.
	Get(ctx context.Context, id, runID string) (training, error)
	// List returns a page of at most limit trainings that f selects, from
	// page (nil for the first), and the token of the next page (nil after
	// the last).
	List(ctx context.Context, f runFilter, limit int, page []byte) ([]training, []byte, error)
	// Cancel asks run runID of workflow id to stop.
	Cancel(ctx context.Context, id, runID string) error
	// StartBatch starts a batch prediction; GetBatch reads one as Get
	// reads a training.
	StartBatch(ctx context.Context, id string, in activities.BatchPredictInput) (batchRun, error)
	GetBatch(ctx context.Context, id, runID string) (batchRun, error)
	// ListBatches lists batch predictions as List lists trainings.
	ListBatches(ctx context.Context, f runFilter, limit int, page []byte) ([]batchRun, []byte, error)
	// StartComparison, GetComparison and ListComparisons do for
	// comparisons what the batch methods do for batch predictions.
	StartComparison(ctx context.Context, id string, in activities.CompareInput) (comparisonRun, error)
	GetComparison(ctx context.Context, id, runID string) (comparisonRun, error)
	ListComparisons(ctx context.Context, f runFilter, limit int, page []byte) ([]comparisonRun, []byte, error)
}

// scheduler manages the retraining schedules.
type scheduler interface {
	List(ctx context.Context) ([]schedule.Summary, error)
	Describe(ctx context.Context, id string) (schedule.Summary, error)
	Put(ctx context.Context, spec workflows.ScheduleSpec, paused *bool, by string) (created bool, err error)
	Pause(ctx context.Context, id, note string) error
	Unpause(ctx context.Context, id, note string) error
	Trigger(ctx context.Context, id string) (waitsFor string, err error)
	Backfill(ctx context.Context, id string, start, end time.Time) ([]time.Time, error)
	Delete(ctx context.Context, id string) error
}

// authenticator checks an Authorization header; *auth.Authenticator.
type authenticator interface {
	Authenticate(ctx context.Context, header string) (*auth.Principal, error)
}

// deps are what newServer needs.
type deps struct {
	logger    *logrus.Logger
	auth      authenticator
	models    modelSource
	registry  modelRegistry
	store     artifacts
	trainer   trainer
	schedules scheduler
	metrics   *metrics
	// modelName is the registered model served and trained by default.
	modelName string
	// taskQueue is the pipeline's task queue, where schedules start runs.
	taskQueue string
	// trainingQueue is the task queue of the pipeline's heavy activities.
	trainingQueue string
	maxBodyBytes  int64
	// maxUploadBytes bounds an uploaded data file.
	maxUploadBytes int64
	// metricsToken, when set, is the bearer token /metrics requires.
	metricsToken string
	// temporalUI links the demo page to the workflows in the Temporal UI.
	temporalUI string
}

// server answers the API's requests.
type server struct {
	deps
	log *logrus.Entry
	// draining is set when shutdown begins, so /readyz fails and load
	// balancers stop sending requests while in-flight ones finish.
	draining atomic.Bool
	// registryDown is what the last readiness probe found, so a registry
	// outage is logged when it starts and ends, not on every probe.
	registryDown atomic.Bool
	// encoded caches the JSON fragments of the served model's labels.
	encoded atomic.Pointer[encodedModel]
	scratch sync.Pool // *scratch
	writers sync.Pool // *statusWriter
	pages   *pages
	// jsonContentType is the Content-Type header value of predictions, and
	// nosniff the X-Content-Type-Options value of every answer.
	jsonContentType, nosniff []string
}

// handlerFunc is an endpoint. p is the authenticated caller, nil on
// public routes. A returned *apiError is answered as such; any other error
// is logged and answered 500.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// route is one endpoint: a method and a ServeMux path pattern.
type route struct {
	method, pattern string
	// role is what the caller needs; "" makes the route public.
	role auth.Role
	// internal routes (the demo page and its assets) are not part of the
	// API and not in the OpenAPI document.
	internal bool
	// bodyType is the media type a POST must declare; "" means
	// application/json.
	bodyType string
	// query lists the query parameters an API route takes; others are
	// refused, so a misspelt filter is not silently ignored.
	query  []string
	handle handlerFunc
}

func newServer(d deps) (*server, error) {
	if d.logger == nil || d.auth == nil || d.models == nil || d.registry == nil || d.store == nil ||
		d.trainer == nil || d.schedules == nil || d.metrics == nil {
		return nil, errors.New("api: missing dependency")
	}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s := &server{deps: d, log: d.logger.WithField("component", "api"), pages: p, jsonContentType: []string{"application/json"}, nosniff: []string{"nosniff"}}
	s.scratch.New = func() any { return &scratch{buf: make([]byte, 0, 4<<10)} }
	s.writers.New = func() any { return new(statusWriter) }
	return s, nil
}

// routes lists every endpoint. The OpenAPI document is tested against it.
func (s *server) routes() []route {
	return []route{
		{method: "POST", pattern: "/v1/predict", role: auth.RolePredict, handle: s.predict},
		{method: "GET", pattern: "/v1/models", role: auth.RolePredict, handle: s.listModels},
		{method: "GET", pattern: "/v1/models/{name}", role: auth.RolePredict, handle: s.getModel},
		{method: "GET", pattern: "/v1/models/{name}/versions/{version}", role: auth.RolePredict, handle: s.getVersion},
		{method: "POST", pattern: "/v1/models/{name}/aliases/{alias}", role: auth.RoleAdmin, handle: s.moveAlias},
		{method: "GET", pattern: "/v1/trainings", role: auth.RolePredict, query: []string{"limit", "model", "status", "page_token"}, handle: s.listTrainings},
		{method: "POST", pattern: "/v1/trainings", role: auth.RoleAdmin, handle: s.startTraining},
		{method: "GET", pattern: "/v1/trainings/{id}", role: auth.RolePredict, query: []string{"run_id"}, handle: s.getTraining},
		{method: "POST", pattern: "/v1/trainings/{id}/cancel", role: auth.RoleAdmin, query: []string{"run_id"}, handle: s.cancelTraining},
		{method: "GET", pattern: "/v1/batch-predictions", role: auth.RolePredict, query: []string{"limit", "model", "status", "page_token"}, handle: s.listBatches},
		{method: "POST", pattern: "/v1/batch-predictions", role: auth.RoleAdmin, handle: s.startBatch},
		{method: "GET", pattern: "/v1/batch-predictions/{id}", role: auth.RolePredict, query: []string{"run_id"}, handle: s.getBatch},
		{method: "GET", pattern: "/v1/comparisons", role: auth.RolePredict, query: []string{"limit", "model", "status", "page_token"}, handle: s.listComparisons},
		{method: "POST", pattern: "/v1/comparisons", role: auth.RoleAdmin, handle: s.startComparison},
		{method: "GET", pattern: "/v1/comparisons/{id}", role: auth.RolePredict, query: []string{"run_id"}, handle: s.getComparison},
		{method: "GET", pattern: "/v1/predictions/{name}", role: auth.RoleAdmin, handle: s.getPredictions},
		{method: "GET", pattern: "/v1/feeds", role: auth.RolePredict, handle: s.listFeeds},
		{method: "GET", pattern: "/v1/feeds/{name}", role: auth.RolePredict, handle: s.getFeed},
		{method: "POST", pattern: "/v1/feeds/{name}", role: auth.RoleAdmin, handle: s.publishFeed},
		{method: "POST", pattern: "/v1/uploads", role: auth.RoleAdmin, bodyType: "text/csv", handle: s.upload},
		{method: "GET", pattern: "/v1/schedules", role: auth.RolePredict, handle: s.listSchedules},
		{method: "GET", pattern: "/v1/schedules/{id}", role: auth.RolePredict, handle: s.getSchedule},
		{method: "PUT", pattern: "/v1/schedules/{id}", role: auth.RoleAdmin, handle: s.putSchedule},
		{method: "DELETE", pattern: "/v1/schedules/{id}", role: auth.RoleAdmin, handle: s.deleteSchedule},
		{method: "POST", pattern: "/v1/schedules/{id}/pause", role: auth.RoleAdmin, handle: s.pauseSchedule},
		{method: "POST", pattern: "/v1/schedules/{id}/unpause", role: auth.RoleAdmin, handle: s.unpauseSchedule},
		{method: "POST", pattern: "/v1/schedules/{id}/trigger", role: auth.RoleAdmin, handle: s.triggerSchedule},
		{method: "POST", pattern: "/v1/schedules/{id}/backfill", role: auth.RoleAdmin, handle: s.backfillSchedule},
		{method: "GET", pattern: "/v1/reports/{name}", role: auth.RoleAdmin, handle: s.getReport},
		{method: "GET", pattern: "/v1/whoami", role: auth.RolePredict, handle: s.whoami},
		{method: "GET", pattern: "/livez", handle: s.livez},
		{method: "GET", pattern: "/readyz", handle: s.readyz},
		{method: "GET", pattern: "/metrics", handle: s.serveMetrics},
		{method: "GET", pattern: "/openapi.json", handle: s.openAPI},
		{method: "GET", pattern: "/{$}", internal: true, handle: s.demoPage},
		{method: "GET", pattern: "/static/{file}", internal: true, handle: s.static},
	}
}

// handler returns the API's HTTP handler. Routes sharing a path are
// served by one endpoint that dispatches on the method, so that a wrong
// method gets the JSON 405 every error has, with an Allow header.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	byPattern := map[string]*endpoint{}
	var order []string
	for _, rt := range s.routes() {
		ep := byPattern[rt.pattern]
		if ep == nil {
			ep = &endpoint{methods: map[string]http.Handler{}}
			byPattern[rt.pattern] = ep
			order = append(order, rt.pattern)
		}
		h := s.wrap(rt)
		ep.methods[rt.method] = h
		if rt.method == http.MethodGet {
			// Load balancers probe with HEAD; net/http drops the body.
			ep.methods[http.MethodHead] = h
		}
	}
	for _, pattern := range order {
		ep := byPattern[pattern]
		methods := make([]string, 0, len(ep.methods))
		for m := range ep.methods {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		ep.notAllowed = s.wrap(route{pattern: pattern, handle: func(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
			w.Header().Set("Allow", allow)
			return errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "%s is not allowed here; use %s", r.Method, allow)
		}})
		mux.Handle(pattern, ep)
	}
	notFound := s.wrap(route{pattern: "unmatched", handle: func(http.ResponseWriter, *http.Request, *auth.Principal) error {
		return errorf(http.StatusNotFound, codeNotFound, "no such endpoint; see /openapi.json")
	}})
	mux.Handle("/", notFound)
	return mux
}

// endpoint serves the routes of one path pattern by method.
type endpoint struct {
	methods    map[string]http.Handler
	notAllowed http.Handler // answers 405 with the Allow header
}

func (ep *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := ep.methods[r.Method]; ok {
		h.ServeHTTP(w, r)
		return
	}
	ep.notAllowed.ServeHTTP(w, r)
}

// wrap adds to a route what every request gets: metrics by route and
// status, recovery from panics, authentication and authorisation, and the
// translation of errors into JSON answers.
func (s *server) wrap(rt route) http.Handler {
	name := rt.pattern
	if rt.method != "" {
		name = rt.method + " " + rt.pattern
	}
	rm := s.metrics.route(name)
	log := s.log.WithField("route", name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Every answer, JSON, error, page or asset.
		w.Header()["X-Content-Type-Options"] = s.nosniff
		if s.draining.Load() {
			// Each connection closes after answering, rather than idle
			// ones at shutdown under a client's next (unretryable) POST.
			w.Header().Set("Connection", "close")
		}
		sw := s.writers.Get().(*statusWriter)
		sw.ResponseWriter, sw.code, sw.wrote = w, 0, false
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.WithFields(logrus.Fields{"panic": p, "stack": string(debug.Stack())}).Error("api: handler panicked")
				if !sw.wrote {
					writeError(sw, http.StatusInternalServerError, codeInternal, "internal error")
				}
			}
			rm.observe(sw.status(), time.Since(start).Seconds())
			sw.ResponseWriter = nil
			s.writers.Put(sw)
		}()
		var principal *auth.Principal
		if rt.role != "" {
			p, err := s.authenticate(r, rt.role)
			if err != nil {
				s.answerError(sw, r, log, err)
				return
			}
			principal = p
		}
		err := checkQuery(r, rt)
		switch {
		case err != nil:
		case rt.method == http.MethodPost, rt.method == http.MethodPut:
			err = checkPost(r, cmp.Or(rt.bodyType, "application/json"))
		case rt.method == http.MethodDelete:
			err = checkSameSite(r)
		}
		if err != nil {
			s.answerError(sw, r, log, err)
			return
		}
		if err := rt.handle(sw, r, principal); err != nil {
			s.answerError(sw, r, log, err)
		}
	})
}

// checkQuery refuses a query parameter an API route does not take. The
// probes, the metrics and the demo page take any, as tools add their own.
func checkQuery(r *http.Request, rt route) error {
	if rt.role == "" || rt.internal || r.URL.RawQuery == "" {
		return nil
	}
	// In order, so that a request naming several is always told of the
	// same one.
	q := r.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if slices.Contains(rt.query, name) {
			if n := len(q[name]); n > 1 {
				return badRequest("query parameter %q is given %d times; give it once", name, n)
			}
			continue
		}
		if len(rt.query) == 0 {
			return badRequest("unknown query parameter %q: %s %s takes none", name, rt.method, rt.pattern)
		}
		return badRequest("unknown query parameter %q: %s %s takes %s", name, rt.method, rt.pattern, strings.Join(rt.query, ", "))
	}
	return nil
}

// utf8Charset reports whether a charset parameter names UTF-8 or its
// subset ASCII.
func utf8Charset(cs string) bool {
	switch strings.ToLower(cs) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

// checkPost refuses a POST or PUT that does not declare the route's media type
// (want: application/json, or text/csv for uploads), and one the browser
// marks as cross-site. A browser attaches its cached Basic credentials to a
// form that another site posts here as text/plain or a form encoding, so
// accepting those would let any page move an alias or start a training
// (CSRF). A cross-site request that declares another type needs a CORS
// preflight, which this API never grants.
func checkPost(r *http.Request, want string) error {
	if err := checkSameSite(r); err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if ct == want {
		return nil
	}
	if mt, params, err := mime.ParseMediaType(ct); err == nil && mt == want {
		// A CSV's encoding is the dataset reader's to check and repair.
		if cs, ok := params["charset"]; ok && mt == "application/json" && !utf8Charset(cs) {
			return errorf(http.StatusUnsupportedMediaType, codeUnsupportedType, "charset %q: send UTF-8", cs)
		}
		return nil
	}
	if ct == "" {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedType, "no Content-Type: send the body (an empty one where it is optional) with Content-Type: %s", want)
	}
	return errorf(http.StatusUnsupportedMediaType, codeUnsupportedType, "Content-Type %q: send %s", ct, want)
}

// checkSameSite refuses a request the browser marks as cross-site.
func checkSameSite(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errorf(http.StatusForbidden, codeForbidden, "cross-site requests are refused")
	}
	return nil
}

// authenticate checks the caller's Basic credentials and role.
func (s *server) authenticate(r *http.Request, need auth.Role) (*auth.Principal, error) {
	p, err := s.auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		return nil, errorf(http.StatusUnauthorized, codeUnauthorized, "authentication required: send HTTP Basic credentials")
	case errors.Is(err, auth.ErrBadCredentials):
		// Logged for people and for tools that block guessers.
		user, _, _ := r.BasicAuth()
		// The formatters escape what they must; the name is bounded and made
		// valid UTF-8, since a guesser chooses it.
		s.log.WithFields(logrus.Fields{"user": strings.ToValidUTF8(user[:min(len(user), 64)], "\uFFFD"), "remote": r.RemoteAddr, "path": r.URL.Path}).
			Warn("api: wrong user name or password")
		return nil, errorf(http.StatusUnauthorized, codeUnauthorized, "wrong user name or password")
	case errors.Is(err, auth.ErrBusy):
		return nil, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
			message: "too many logins are being checked; try again shortly", cause: err, retryAfter: time.Second}
	case err != nil:
		return nil, unavailable("authentication", err)
	case !p.Role.Allows(need):
		return nil, errorf(http.StatusForbidden, codeForbidden, "user %s has role %s; this needs %s", p.Name, p.Role, need)
	}
	return p, nil
}

// answerError writes err as a JSON error and logs what the caller does
// not see.
func (s *server) answerError(w *statusWriter, r *http.Request, log *logrus.Entry, err error) {
	var ae *apiError
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away: nothing failed on our side.
		ae = &apiError{status: statusClientClosed, code: codeClientClosed, message: "client closed the request", cause: err}
	case !errors.As(err, &ae):
		ae = &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "internal error", cause: err}
	}
	// The demo page asks for no challenge: a browser would hold its
	// request for a login prompt, and the page shows the refusal itself.
	if ae.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" && r.Header.Get("X-Prodcat-Page") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="prodcat", charset="UTF-8"`)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ae.retryAfter.Seconds()))))
	}
	fields := logrus.Fields{"status": ae.status, "method": r.Method, "path": r.URL.Path}
	switch {
	case ae.dependency != "":
		log.WithError(err).WithFields(fields).WithField("dependency", dependencyField(ae.dependency)).Warn("api: a dependency is unavailable")
	case ae.code == codeNotReady || ae.code == codeNoModel:
		// A state, logged where it changes, that probes ask about every
		// few seconds.
		log.WithFields(fields).Debug("api: not ready")
	case ae.retryAfter > 0:
		log.WithError(err).WithFields(fields).Warn("api: request shed")
	case ae.status >= 500:
		log.WithError(err).WithFields(fields).Error("api: request failed")
	case s.logger.IsLevelEnabled(logrus.DebugLevel):
		log.WithError(err).WithFields(fields).Debug("api: request rejected")
	}
	if w.wrote {
		return // too late for an error answer; the log has it
	}
	writeError(w, ae.status, ae.code, ae.message)
}

// statusWriter records the status code of an answer for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// dependencyTimeout bounds each call a handler makes to the registry, the
// bucket or Temporal.
const dependencyTimeout = 10 * time.Second

func withTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), dependencyTimeout)
}
