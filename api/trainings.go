package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/workflows"
	"go.temporal.io/api/serviceerror"
)

// training is a TrainingPipeline run as the API shows it.
type training struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Status     string     `json:"status"` // running, completed, failed, canceled, terminated, timed_out, continued_as_new
	StartTime  time.Time  `json:"start_time"`
	CloseTime  *time.Time `json:"close_time,omitempty"`
	// UIURL is the run's page in the Temporal UI.
	UIURL string `json:"ui_url"`
	// The search attributes the pipeline sets when it ends, if it did.
	ModelName    string   `json:"model_name,omitempty"`
	ModelVersion int      `json:"model_version,omitempty"`
	WeightedF1   *float64 `json:"weighted_f1,omitempty"`
	Promoted     *bool    `json:"promoted,omitempty"`
	// Progress is set while the run is running and a worker answers.
	Progress *workflows.Progress `json:"progress,omitempty"`
	// Retrying lists the stages a running run is retrying, with the
	// attempt and its last error (a registry or bucket that is down).
	Retrying []workflows.RetryingStage `json:"retrying,omitempty"`
	// NoWorker names the task queues a running run needs that no worker
	// polls: the run waits until one does.
	NoWorker []string `json:"no_worker,omitempty"`
	// Result is set when it completed, Error when it did not.
	Result *workflows.TrainingResult `json:"result,omitempty"`
	Error  string                    `json:"error,omitempty"`
}

// errTrainingNotFound is what a trainer returns for an unknown workflow
// ID, or one that is not a training.
var errTrainingNotFound = errors.New("no such training")

// trainingSpec is what a training runs on: workflows.TrainingParams
// without the task queue, which is the server's business. POST
// /v1/trainings and PUT /v1/schedules/{id} take it.
type trainingSpec struct {
	ModelName         string             `json:"model_name"`
	Source            activities.Source  `json:"source"`
	Params            *classifier.Params `json:"params"`
	HoldoutFraction   float64            `json:"holdout_fraction"`
	MaxRejectFraction float64            `json:"max_reject_fraction"`
	Gate              activities.Gate    `json:"gate"`
}

// trainingRequest is what POST /v1/trainings takes: a trainingSpec with an
// optional workflow ID.
type trainingRequest struct {
	ID string `json:"id"`
	trainingSpec
}

// trainingStarted is the answer to POST /v1/trainings.
type trainingStarted struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	UIURL      string `json:"ui_url"`
	// StatusURL is where to follow the run in this API.
	StatusURL string `json:"status_url"`
}

func (s *server) startTraining(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	req := trainingRequest{trainingSpec: s.defaultTrainingSpec()}
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	if req.ID != "" {
		if err := workflows.CheckWorkflowID(req.ID); err != nil {
			return badRequest("id %q: %v", req.ID, err)
		}
	}
	params := s.trainingParams(req.trainingSpec)
	if err := cmp.Or(params.Validate(), params.Source.CheckColumns()); err != nil { // the first mistake only
		return badRequest("%v", err)
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	if err := s.checkInputs(ctx, params.Source, ""); err != nil {
		return err
	}
	t, err := s.trainer.Start(ctx, req.ID, params)
	if err != nil {
		return trainerError(err)
	}
	s.log.WithFields(map[string]any{"workflow_id": t.WorkflowID, "run_id": t.RunID, "user": p.Name, "model": req.ModelName}).Info("api: training started")
	return accepted(w, "/v1/trainings/", t.stage())
}

// accepted answers 202 for run, just started, with where to follow it
// (base and its workflow ID) in Location and the body.
func accepted(w http.ResponseWriter, base string, run stageRun) error {
	status := base + run.WorkflowID
	w.Header().Set("Location", status)
	return writeJSON(w, http.StatusAccepted, trainingStarted{WorkflowID: run.WorkflowID, RunID: run.RunID, UIURL: run.UIURL, StatusURL: status})
}

// defaultTrainingSpec is what a trainingSpec holds before a request is
// decoded into it: fields the caller leaves out keep these defaults.
func (s *server) defaultTrainingSpec() trainingSpec {
	defaults := classifier.DefaultParams()
	return trainingSpec{
		ModelName:         s.modelName,
		Params:            &defaults,
		HoldoutFraction:   workflows.DefaultHoldoutFraction,
		MaxRejectFraction: workflows.DefaultMaxRejectFraction,
		Gate:              activities.Gate{Margin: workflows.DefaultPromotionMargin, Floor: workflows.DefaultPromotionFloor},
	}
}

// trainingParams returns the parameters of the runs of a decoded
// trainingSpec, to be checked with Validate and then checkInputs.
func (s *server) trainingParams(spec trainingSpec) workflows.TrainingParams {
	if spec.Params == nil {
		// params: null means the defaults, as leaving it out does.
		defaults := classifier.DefaultParams()
		spec.Params = &defaults
	}
	return workflows.TrainingParams{
		ModelName: spec.ModelName, Source: spec.Source, Params: spec.Params,
		HoldoutFraction: spec.HoldoutFraction, MaxRejectFraction: spec.MaxRejectFraction,
		Gate: spec.Gate, GateSet: true, TrainingQueue: s.trainingQueue,
	}
}

// checkInputs answers 400 for a source every run would fail on at once:
// objects not in the bucket or without the named columns, or a feed that
// was never published. prefix starts the messages.
func (s *server) checkInputs(ctx context.Context, src activities.Source, prefix string) error {
	if err := s.checkObjects(ctx, src, prefix, "source."); err != nil {
		return err
	}
	if src.Feed == "" {
		return nil
	}
	// The run resolves the feed when it starts; checking here turns a feed
	// that was never published, or whose latest version names an object
	// since removed from the bucket, into a 400 instead of a failed run.
	v, err := s.registry.Feed(ctx, src.Feed)
	if errors.Is(err, registry.ErrNotFound) {
		return badRequest("%ssource.feed %q was never published; publish it first (POST /v1/feeds/{name} or starter feed publish)", prefix, src.Feed)
	} else if err != nil {
		return unavailable("the registry", err)
	}
	var objects activities.Source
	if json.Unmarshal(v.Source, &objects) != nil || objects.Feed != "" {
		return nil // the run fails on it, saying why
	}
	return s.checkObjects(ctx, objects, fmt.Sprintf("%ssource.feed %q version %d (publish a new version): ", prefix, src.Feed, v.Version), "source.")
}

// checkObjects answers 400 when src names a key that is not a content
// address or an object that is not in the bucket, which every run on it
// would fail on, and 503 when the bucket does not answer. prefix starts the
// messages; fields is the path of the keys in the request ("source." when
// they are in its source object).
func (s *server) checkObjects(ctx context.Context, src activities.Source, prefix, fields string) error {
	if err := src.CheckKeys(); err != nil {
		return badRequest("%s%v", prefix, err)
	}
	for _, in := range []struct{ field, key string }{
		{fields + "x_key", src.XKey}, {fields + "y_key", src.YKey}, {fields + "csv_key", src.CSVKey},
	} {
		if in.key == "" {
			continue
		}
		ok, err := s.store.Exists(ctx, in.key)
		if err != nil {
			return unavailable("the artifact store", err)
		}
		if !ok {
			return badRequest("%s%s %q is not in the bucket; upload it first (POST /v1/uploads or starter upload)", prefix, in.field, in.key)
		}
	}
	err := src.CheckHeaders(func(key string) ([]byte, error) { return s.store.Head(ctx, key, dataset.HeaderBytes) })
	switch {
	case errors.Is(err, dataset.ErrBadData):
		return badRequest("%s%v", prefix, err)
	case err != nil:
		return unavailable("the artifact store", err)
	}
	return nil
}

// checkRunID refuses a run_id that is given but is not a run ID.
func checkRunID(runID string) error {
	if runID == "" {
		return nil
	}
	if err := workflows.CheckRunID(runID); err != nil {
		return badRequest("run_id %q: %v", runID, err)
	}
	return nil
}

// trainingRef returns the training a request names: the workflow ID in
// its path and the run ID, if any, in its query.
func trainingRef(r *http.Request) (id, runID string, err error) {
	id, runID = r.PathValue("id"), r.URL.Query().Get("run_id")
	if err := checkTemporalID("training", id); err != nil {
		return "", "", err
	}
	if err := checkTemporalID("training run", runID); err != nil {
		return "", "", err
	}
	if err := checkRunID(runID); err != nil {
		return "", "", err
	}
	return id, runID, nil
}

func (s *server) getTraining(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	id, runID, err := trainingRef(r)
	if err != nil {
		return err
	}
	// Runs of a workflow ID (a schedule's, triggered twice in one second)
	// are told apart by run ID; without one, the latest is read.
	t, err := s.trainer.Get(ctx, id, runID)
	if err != nil {
		return trainerError(err)
	}
	return writeJSON(w, http.StatusOK, t)
}

// Bounds of the lists of runs (GET /v1/trainings, /v1/batch-predictions
// and /v1/comparisons): ?limit=&page_token=.
const (
	defaultListLimit = 20
	maxListLimit     = 100
	maxPageToken     = 4 << 10
	// pageProbeTimeout bounds the first-page read that tells a page token
	// Temporal cannot read from Temporal being down.
	pageProbeTimeout = 2 * time.Second
)

// trainingList is a page of GET /v1/trainings.
type trainingList struct {
	Trainings []training `json:"trainings"`
	// NextPageToken, given as page_token, reads the next page; it is
	// absent after the last.
	NextPageToken string `json:"next_page_token,omitempty"`
}

func (s *server) listTrainings(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	return listRuns(w, r, "", s.trainer.List, func(ts []training, next string) any {
		return trainingList{Trainings: ts, NextPageToken: next}
	})
}

// listRuns answers one page of a list of runs (trainings, batch
// predictions, comparisons), read with list: the query's limit, model,
// status and page_token, and a page made by page. kind tells the lists'
// page tokens apart.
func listRuns[T any](w http.ResponseWriter, r *http.Request, kind string,
	list func(ctx context.Context, f runFilter, limit int, page []byte) ([]T, []byte, error),
	page func(items []T, next string) any) error {
	q := r.URL.Query()
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return badRequest("limit %q: want 1 to %d", v, maxListLimit)
		}
		limit = n
	}
	f := runFilter{Model: q.Get("model"), Status: q.Get("status")}
	if f.Model != "" {
		if err := registry.CheckModelName(f.Model); err != nil {
			return badRequest("model: %v", err)
		}
	}
	if f.Status != "" && !slices.Contains(runStatuses, f.Status) {
		return badRequest("status %q: want one of %s", f.Status, strings.Join(runStatuses, ", "))
	}
	key := kind + f.key()
	var from []byte
	if v := q.Get("page_token"); v != "" {
		var ok bool
		if from, ok = openPageToken(key, v); !ok {
			return badRequest("page_token: not a next_page_token this API gave for this list and these filters")
		}
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	items, next, err := list(ctx, f, limit, from)
	var deadline *serviceerror.DeadlineExceeded
	if err != nil && from != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline)) {
		// Temporal retries a token it cannot parse until the deadline (a
		// made-up one: mangled ones fail their digest), as it retries
		// while it is down. A first page that comes says which.
		pctx, cancel := context.WithTimeout(r.Context(), pageProbeTimeout)
		_, _, perr := list(pctx, f, 1, nil)
		cancel()
		if perr == nil {
			return badRequest("page_token: Temporal could not read it; start again from the first page")
		}
	}
	if err != nil {
		return trainerError(err)
	}
	if items == nil {
		items = []T{}
	}
	return writeJSON(w, http.StatusOK, page(items, sealPageToken(key, next)))
}

// runFilter selects the runs a list of runs holds; empty fields select
// all.
type runFilter struct {
	Model  string
	Status string // one of runStatuses
}

// runStatuses are the statuses a list can be filtered by, as a
// run's status names them.
var runStatuses = []string{"running", "completed", "failed", "canceled", "terminated", "timed_out"}

// key identifies the filter in page tokens; a model filter alone keys as
// it did before there were others. A list's kind goes before it.
func (f runFilter) key() string {
	if f.Status == "" {
		return f.Model
	}
	return f.Model + "\x00status=" + f.Status
}

// sealPageToken wraps a list's next-page token from Temporal with a digest
// of it, the list's kind and its filters (runFilter.key); openPageToken
// unwraps it. Temporal retries a token it cannot parse until the request
// times out, so one that was mangled, or given with another list or
// filter, is refused here at once. The
// digest has no key, so it does not stop a made-up token: that one is
// refused when Temporal times out on it while it serves a first page.
func sealPageToken(filter string, token []byte) string {
	if len(token) == 0 {
		return ""
	}
	sum := pageTokenSum(filter, token)
	return base64.RawURLEncoding.EncodeToString(append(sum[:], token...))
}

func openPageToken(filter, s string) ([]byte, bool) {
	if len(s) > maxPageToken {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) <= pageTokenSumBytes {
		return nil, false
	}
	sum, token := b[:pageTokenSumBytes], b[pageTokenSumBytes:]
	want := pageTokenSum(filter, token)
	return token, bytes.Equal(sum, want[:])
}

const pageTokenSumBytes = 12

func pageTokenSum(filter string, token []byte) [pageTokenSumBytes]byte {
	h := sha256.New()
	h.Write([]byte(filter))
	h.Write([]byte{0})
	h.Write(token)
	return [pageTokenSumBytes]byte(h.Sum(nil))
}

// cancelTraining asks a running training to stop (202). The stage under
// way stops first, so a model it already published stands; the run is then
// marked canceled in the registry and ends canceled in Temporal. Prefer it to
// terminating the workflow, which runs no more code and leaves the
// registry's run marked running.
func (s *server) cancelTraining(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.decodeRequest(w, r, &struct{}{}, true); err != nil {
		return err
	}
	id, runID, err := trainingRef(r)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	t, err := s.trainer.Get(ctx, id, runID)
	if err != nil {
		return trainerError(err)
	}
	if t.Status != "running" {
		return errorf(http.StatusConflict, codeConflict, "training %s has ended (%s); there is nothing to cancel", id, t.Status)
	}
	if err := s.trainer.Cancel(ctx, t.WorkflowID, t.RunID); err != nil {
		return trainerError(err)
	}
	s.log.WithFields(map[string]any{"workflow_id": t.WorkflowID, "run_id": t.RunID, "user": p.Name}).Info("api: training cancel requested")
	return writeJSON(w, http.StatusAccepted, struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
		Action     string `json:"action"`
		StatusURL  string `json:"status_url"`
	}{t.WorkflowID, t.RunID, "cancel_requested", "/v1/trainings/" + t.WorkflowID + "?run_id=" + t.RunID})
}

// trainerError answers a trainer failure.
func trainerError(err error) error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, errTrainingNotFound), errors.Is(err, errBatchNotFound), errors.Is(err, errComparisonNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "%v", err)
	}
	return fromDependency("Temporal", err)
}
