package main

import (
	"context"
	"errors"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/workflows"
)

// batchRequest is the body of POST /v1/batch-predictions: an unlabelled
// file already uploaded (POST /v1/uploads), and the alias of the version to
// predict with.
type batchRequest struct {
	// ID is the workflow ID; by default predict-<model>-<time>. A job that
	// chooses its own can retry without starting a second run (409).
	ID     string `json:"id"`
	XKey   string `json:"x_key"`
	CSVKey string `json:"csv_key"`
	// TextCols are a CSV's text columns; by default the ones the version
	// was trained on.
	TextCols []string `json:"text_cols"`
	Alias    string   `json:"alias"`
}

// batchRun is a batch prediction as GET /v1/batch-predictions/{id} shows
// it. Its ModelVersion is the version it predicted with, once it knows it.
type batchRun struct {
	stageRun
	// Result is the run's result once it completed; PredictionsURL is
	// where this API serves its predictions file.
	Result         *activities.BatchPredictResult `json:"result,omitempty"`
	PredictionsURL string                         `json:"predictions_url,omitempty"`
}

// batchList is a page of GET /v1/batch-predictions.
type batchList struct {
	BatchPredictions []batchRun `json:"batch_predictions"`
	// NextPageToken is as a trainingList's.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// listBatches lists batch predictions as listTrainings lists trainings.
func (s *server) listBatches(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	return listRuns(w, r, "batch\x00", s.trainer.ListBatches, func(bs []batchRun, next string) any {
		return batchList{BatchPredictions: bs, NextPageToken: next}
	})
}

// errBatchNotFound is what a trainer returns for an unknown workflow ID, or
// one that is not a batch prediction.
var errBatchNotFound = errors.New("no such batch prediction")

func (s *server) startBatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req batchRequest
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	if req.ID != "" {
		if err := workflows.CheckWorkflowID(req.ID); err != nil {
			return badRequest("id %q: %v", req.ID, err)
		}
	}
	if (req.XKey == "") == (req.CSVKey == "") {
		return badRequest("give exactly one of x_key (the challenge's X file) and csv_key (a generic CSV), as POST /v1/uploads names it")
	}
	if req.XKey != "" && len(req.TextCols) > 0 {
		return badRequest("text_cols are for csv_key: the X file's columns are fixed")
	}
	alias := req.Alias
	if alias == "" {
		alias = registry.AliasProduction
	}
	if err := registry.CheckName("alias", alias); err != nil {
		return badRequest("alias: %v", err)
	}
	// Checking the model file (verifyTimeout) must not leave the other
	// calls without time.
	ctx, cancel := context.WithTimeout(r.Context(), dependencyTimeout+verifyTimeout)
	defer cancel()
	v, err := s.aliasVersion(ctx, alias)
	if err != nil {
		return err
	}
	src := activities.Source{XKey: req.XKey, CSVKey: req.CSVKey}
	if req.CSVKey != "" {
		if src.TextCols, err = batchColumns(v, req.TextCols); err != nil {
			return err
		}
	}
	// As a training's: an object not in the bucket, or without the
	// columns, fails at once rather than in the run, and so does a
	// version whose model file is gone or corrupt.
	if err := s.checkObjects(ctx, src, "", ""); err != nil {
		return err
	}
	if err := s.checkModelFile(ctx, s.modelName, v.Version); err != nil {
		return err
	}
	b, err := s.trainer.StartBatch(ctx, req.ID, activities.BatchPredictInput{
		ModelName: s.modelName, Alias: alias, XKey: src.XKey, CSVKey: src.CSVKey, TextCols: src.TextCols,
	})
	if err != nil {
		return trainerError(err)
	}
	s.log.WithFields(map[string]any{"workflow_id": b.WorkflowID, "run_id": b.RunID, "user": p.Name, "model": s.modelName, "alias": alias}).Info("api: batch prediction started")
	return accepted(w, "/v1/batch-predictions/", b.stageRun)
}

// aliasVersion returns the version of the served model that alias points
// at; 409 when there is none, since a run on it would fail.
func (s *server) aliasVersion(ctx context.Context, alias string) (registry.Version, error) {
	aliases, err := s.registry.Aliases(ctx, s.modelName)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return registry.Version{}, fromDependency("the registry", err)
	}
	n, ok := aliases[alias]
	if !ok {
		return registry.Version{}, errorf(http.StatusConflict, codeConflict, "model %s has no %s version to predict with", s.modelName, alias)
	}
	v, err := s.registry.Version(ctx, s.modelName, n)
	if err != nil {
		return registry.Version{}, fromDependency("the registry", err)
	}
	return v, nil
}

// batchColumns returns the text columns a batch prediction of a CSV reads
// with version v: cols when given, else the ones it was trained on. Its
// label column is refused: the predictions would read the answers.
func batchColumns(v registry.Version, cols []string) ([]string, error) {
	sig := activities.SignatureOf(v.Signature)
	if len(cols) > 0 {
		if err := dataset.CheckColumns(cols, "", ""); err != nil {
			return nil, badRequest("text_cols: %v", err)
		}
	}
	if len(cols) == 0 {
		if len(sig.TextCols) == 0 {
			return nil, badRequest("csv_key needs text_cols, the columns the model reads, the title first (version %d does not record them)", v.Version)
		}
		return sig.TextCols, nil
	}
	if sig.LabelCol != "" && slices.Contains(cols, sig.LabelCol) {
		return nil, badRequest("text_cols: %s is the column version %d predicts; it reads %s", sig.LabelCol, v.Version, strings.Join(sig.TextCols, ","))
	}
	return cols, nil
}

func (s *server) getBatch(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, runID, err := trainingRef(r)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	b, err := s.trainer.GetBatch(ctx, id, runID)
	if err != nil {
		return trainerError(err)
	}
	if b.Result != nil {
		b.PredictionsURL = "/v1/predictions/" + path.Base(b.Result.PredictionsKey)
	}
	return writeJSON(w, http.StatusOK, b)
}

// predictionsName is the name of a predictions file under
// artifact.Predictions.
var predictionsName = regexp.MustCompile(`^[0-9a-f]{64}\.csv$`)

// maxServedPredictionsBytes bounds the predictions file the API serves;
// larger ones are read from the bucket.
const maxServedPredictionsBytes = 64 << 20

// getPredictions serves a batch prediction's file. It holds rows of the
// data, as reports do, so it needs the admin role.
func (s *server) getPredictions(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	name := r.PathValue("name")
	if !predictionsName.MatchString(name) {
		return badRequest("predictions %q: want <sha256>.csv, as a batch prediction's predictions_url names it", name)
	}
	return s.serveObject(w, r, artifact.Predictions+"/"+name, "predictions file", maxServedPredictionsBytes, "text/csv; charset=utf-8")
}

func (t *temporalTrainer) StartBatch(ctx context.Context, id string, in activities.BatchPredictInput) (batchRun, error) {
	run, err := workflows.StartBatchPredict(ctx, t.c, t.queue, id, in)
	if inUse := idInUse(err, id, "batch prediction of "+in.ModelName, "/v1/batch-predictions/"); inUse != nil {
		return batchRun{}, inUse
	}
	if err != nil {
		return batchRun{}, err
	}
	return batchRun{stageRun: t.started(run, in.ModelName)}, nil
}

func (t *temporalTrainer) GetBatch(ctx context.Context, id, runID string) (batchRun, error) {
	var res activities.BatchPredictResult
	r, done, err := t.getStageRun(ctx, id, runID, workflows.BatchWorkflowType, errBatchNotFound, &res)
	if err != nil {
		return batchRun{}, err
	}
	b := batchRun{stageRun: r}
	if done {
		b.Result = &res
	}
	return b, nil
}
