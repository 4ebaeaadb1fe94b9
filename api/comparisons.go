package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/workflows"
)

// comparisonRequest is the body of POST /v1/comparisons: versions of the
// served model and a labelled test set already uploaded (POST
// /v1/uploads) to score them on.
type comparisonRequest struct {
	// ID is the workflow ID; by default compare-<model>-<time>.
	ID       string `json:"id"`
	Versions []int  `json:"versions"`
	XKey     string `json:"x_key"`
	YKey     string `json:"y_key"`
	CSVKey   string `json:"csv_key"`
	// TextCols and LabelCol are a CSV's columns; by default the ones the
	// first version was trained on.
	TextCols []string `json:"text_cols"`
	LabelCol string   `json:"label_col"`
	// MaxRejectFraction is by default a training's.
	MaxRejectFraction *float64 `json:"max_reject_fraction"`
}

// comparisonRun is a comparison as GET /v1/comparisons/{id} shows it.
type comparisonRun struct {
	stageRun
	// Result is the comparison once it completed.
	Result *activities.Comparison `json:"result,omitempty"`
}

// comparisonList is a page of GET /v1/comparisons.
type comparisonList struct {
	Comparisons []comparisonRun `json:"comparisons"`
	// NextPageToken is as a trainingList's.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// errComparisonNotFound is what a trainer returns for an unknown workflow
// ID, or one that is not a comparison.
var errComparisonNotFound = errors.New("no such comparison")

// startComparison starts a CompareVersions run. What every run would fail
// on is refused first, the checks that need no service before the others:
// the versions (400), an unknown version (400), a version whose model file
// is gone or corrupt (409), an object not in the bucket or without the
// columns (400).
func (s *server) startComparison(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req comparisonRequest
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	if req.ID != "" {
		if err := workflows.CheckWorkflowID(req.ID); err != nil {
			return badRequest("id %q: %v", req.ID, err)
		}
	}
	switch {
	case req.CSVKey != "" && (req.XKey != "" || req.YKey != ""):
		return badRequest("give either x_key and y_key or csv_key, not both")
	case req.CSVKey == "" && (req.XKey == "" || req.YKey == ""):
		return badRequest("give the labelled test set: x_key and y_key (the challenge's files) or csv_key, as POST /v1/uploads names them")
	}
	in := activities.CompareInput{
		ModelName: s.modelName, Versions: req.Versions, MaxRejectFraction: workflows.DefaultMaxRejectFraction,
		Source: activities.Source{XKey: req.XKey, YKey: req.YKey, CSVKey: req.CSVKey, TextCols: req.TextCols, LabelCol: req.LabelCol},
	}
	if req.MaxRejectFraction != nil {
		in.MaxRejectFraction = *req.MaxRejectFraction
	}
	if err := errors.Join(in.CheckVersions(), in.Source.CheckKeys()); err != nil {
		return badRequest("%v", err)
	}
	// Checking the model files (verifyTimeout) must not leave the other
	// calls without time.
	ctx, cancel := context.WithTimeout(r.Context(), dependencyTimeout+verifyTimeout)
	defer cancel()
	for i, n := range in.Versions {
		v, err := s.registry.Version(ctx, s.modelName, n)
		if errors.Is(err, registry.ErrNotFound) {
			return badRequest("versions: model %s has no version %d", s.modelName, n)
		}
		if err != nil {
			return fromDependency("the registry", err)
		}
		if err := s.verifyModelFile(ctx, v, "leave it out of the comparison"); err != nil {
			return err
		}
		if i == 0 && req.CSVKey != "" {
			var ok bool
			if in.Source.TextCols, in.Source.LabelCol, ok = activities.SignatureOf(v.Signature).Columns(req.TextCols, req.LabelCol); !ok {
				return badRequest("csv_key needs text_cols and label_col (version %d does not record the columns it was trained on)", n)
			}
		}
	}
	if err := in.Check(); err != nil {
		return badRequest("%v", err)
	}
	if err := s.checkObjects(ctx, in.Source, "", ""); err != nil {
		return err
	}
	c, err := s.trainer.StartComparison(ctx, req.ID, in)
	if err != nil {
		return trainerError(err)
	}
	s.log.WithFields(map[string]any{"workflow_id": c.WorkflowID, "run_id": c.RunID, "user": p.Name, "model": s.modelName, "versions": req.Versions}).Info("api: comparison started")
	return accepted(w, "/v1/comparisons/", c.stageRun)
}

func (s *server) getComparison(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id, runID, err := trainingRef(r)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	c, err := s.trainer.GetComparison(ctx, id, runID)
	if err != nil {
		return trainerError(err)
	}
	return writeJSON(w, http.StatusOK, c)
}

// listComparisons lists comparisons as listTrainings lists trainings.
func (s *server) listComparisons(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	return listRuns(w, r, "compare\x00", s.trainer.ListComparisons, func(cs []comparisonRun, next string) any {
		return comparisonList{Comparisons: cs, NextPageToken: next}
	})
}

func (t *temporalTrainer) StartComparison(ctx context.Context, id string, in activities.CompareInput) (comparisonRun, error) {
	run, err := workflows.StartCompareVersions(ctx, t.c, t.queue, id, in)
	if inUse := idInUse(err, id, "comparison of "+in.ModelName, "/v1/comparisons/"); inUse != nil {
		return comparisonRun{}, inUse
	}
	if err != nil {
		return comparisonRun{}, err
	}
	return comparisonRun{stageRun: t.started(run, in.ModelName)}, nil
}

func (t *temporalTrainer) GetComparison(ctx context.Context, id, runID string) (comparisonRun, error) {
	var res activities.Comparison
	r, done, err := t.getStageRun(ctx, id, runID, workflows.CompareWorkflowType, errComparisonNotFound, &res)
	if err != nil {
		return comparisonRun{}, err
	}
	c := comparisonRun{stageRun: r}
	if done {
		c.Result = &res
	}
	return c, nil
}

// ListComparisons lists comparisons as List lists trainings.
func (t *temporalTrainer) ListComparisons(ctx context.Context, f runFilter, limit int, page []byte) ([]comparisonRun, []byte, error) {
	rs, next, err := t.listStageRuns(ctx, workflows.CompareWorkflowType, f, limit, page)
	out := make([]comparisonRun, len(rs))
	for i, r := range rs {
		out[i] = comparisonRun{stageRun: r}
	}
	return out, next, err
}
