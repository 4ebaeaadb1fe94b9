package main

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/workflows"
)

// stageRun is a run of a workflow with one stage, a batch prediction or a
// comparison, as the API shows it, its result aside.
type stageRun struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Status     string     `json:"status"` // as a training's
	StartTime  time.Time  `json:"start_time"`
	CloseTime  *time.Time `json:"close_time,omitempty"`
	UIURL      string     `json:"ui_url"`
	ModelName  string     `json:"model_name,omitempty"`
	// ModelVersion is the version a batch prediction predicted with.
	ModelVersion int                       `json:"model_version,omitempty"`
	Progress     *workflows.Progress       `json:"progress,omitempty"`
	Retrying     []workflows.RetryingStage `json:"retrying,omitempty"`
	NoWorker     []string                  `json:"no_worker,omitempty"`
	Error        string                    `json:"error,omitempty"`
}

// stage returns the fields of a one-stage run read as a training
// (fromInfo) that the two share.
func (tr training) stage() stageRun {
	return stageRun{
		WorkflowID: tr.WorkflowID, RunID: tr.RunID, Status: tr.Status, StartTime: tr.StartTime, CloseTime: tr.CloseTime,
		UIURL: tr.UIURL, ModelName: tr.ModelName, ModelVersion: tr.ModelVersion,
	}
}

// started is a one-stage run of model just started.
func (t *temporalTrainer) started(run client.WorkflowRun, model string) stageRun {
	return stageRun{
		WorkflowID: run.GetID(), RunID: run.GetRunID(), Status: "running", StartTime: time.Now().UTC(), ModelName: model,
		UIURL: workflows.UILink(t.uiURL, t.namespace, run.GetID(), run.GetRunID()),
	}
}

// getStageRun reads run runID of workflow id (its latest when runID is
// empty), which must be of type typ (notFound otherwise): its progress
// while it runs, its error once it failed, and once it completed its
// result, decoded into result, and done true.
func (t *temporalTrainer) getStageRun(ctx context.Context, id, runID, typ string, notFound error, result any) (r stageRun, done bool, err error) {
	desc, err := t.describe(ctx, id, runID, typ, notFound)
	if err != nil {
		return stageRun{}, false, err
	}
	info := desc.GetWorkflowExecutionInfo()
	r = t.fromInfo(info).stage()
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		r.Progress, r.NoWorker, r.Retrying = t.running(ctx, desc)
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if err := t.c.GetWorkflow(ctx, r.WorkflowID, r.RunID).Get(ctx, result); err != nil {
			return stageRun{}, false, err
		}
		return r, true, nil
	default:
		r.Error = t.failure(ctx, r.WorkflowID, r.RunID)
	}
	return r, false, nil
}

// listStageRuns lists the runs of workflow type typ as List lists
// trainings.
func (t *temporalTrainer) listStageRuns(ctx context.Context, typ string, f runFilter, limit int, page []byte) ([]stageRun, []byte, error) {
	infos, next, err := t.list(ctx, typ, f, limit, page)
	out := make([]stageRun, 0, len(infos))
	for _, info := range infos {
		out = append(out, t.fromInfo(info).stage())
	}
	return out, next, err
}
