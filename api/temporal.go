package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/workflows"
)

// temporalTrainer starts and reads TrainingPipeline runs on Temporal.
type temporalTrainer struct {
	c         client.Client
	queue     string // the pipeline's workflow task queue
	namespace string
	uiURL     string
}

// progressTimeout bounds the progress query, which waits for a worker.
const progressTimeout = 3 * time.Second

func (t *temporalTrainer) Start(ctx context.Context, id string, p workflows.TrainingParams) (training, error) {
	run, err := workflows.StartTraining(ctx, t.c, t.queue, id, p)
	if inUse := idInUse(err, id, "training of "+p.ModelName, "/v1/trainings/"); inUse != nil {
		return training{}, inUse
	}
	if err != nil {
		return training{}, err
	}
	return training{
		WorkflowID: run.GetID(), RunID: run.GetRunID(), Status: "running", StartTime: time.Now().UTC(),
		UIURL: workflows.UILink(t.uiURL, t.namespace, run.GetID(), run.GetRunID()),
	}, nil
}

func (t *temporalTrainer) Get(ctx context.Context, id, runID string) (training, error) {
	desc, err := t.describe(ctx, id, runID, workflows.TrainingWorkflowType, errTrainingNotFound)
	if err != nil {
		return training{}, err
	}
	info := desc.GetWorkflowExecutionInfo()
	tr := t.fromInfo(info)
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		tr.Progress, tr.NoWorker, tr.Retrying = t.running(ctx, desc)
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var res workflows.TrainingResult
		if err := t.c.GetWorkflow(ctx, tr.WorkflowID, tr.RunID).Get(ctx, &res); err != nil {
			return training{}, err
		}
		tr.Result = &res
	default:
		tr.Error = t.failure(ctx, tr.WorkflowID, tr.RunID)
	}
	return tr, nil
}

// idInUse turns Temporal's refusal of a workflow ID in use, err, into a
// 409 for a start of what with id, saying where its run is read (at
// statusPath and the ID); it is nil for any other error.
func idInUse(err error, id, what, statusPath string) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return nil
	}
	if id == "" {
		// Generated IDs are unique to the millisecond: a twin request.
		return errorf(http.StatusConflict, codeConflict, "a %s was started in the same millisecond; try again", what)
	}
	// Temporal keeps the ID for its retention period: the run it names is
	// the one started with it, which the caller may be retrying.
	return errorf(http.StatusConflict, codeConflict, "a workflow with ID %q already exists (run %s; GET %s%s shows it); choose another id to start another",
		id, started.RunId, statusPath, url.PathEscape(id))
}

// describe reads run runID of workflow id (its latest run when runID is
// empty), which must be of type typ: notFound, wrapped, otherwise.
func (t *temporalTrainer) describe(ctx context.Context, id, runID, typ string, notFound error) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	desc, err := t.c.DescribeWorkflowExecution(ctx, id, runID)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: %s", notFound, id)
	}
	if err != nil {
		return nil, err
	}
	if name := desc.GetWorkflowExecutionInfo().GetType().GetName(); name != typ {
		return nil, fmt.Errorf("%w: %s is a %s workflow", notFound, id, name)
	}
	return desc, nil
}

// running says how a running run is doing: its progress, the queues it
// waits on that no worker polls, and its stages being retried.
func (t *temporalTrainer) running(ctx context.Context, desc *workflowservice.DescribeWorkflowExecutionResponse) (*workflows.Progress, []string, []workflows.RetryingStage) {
	info := desc.GetWorkflowExecutionInfo()
	// A run that waits for a worker that is not there says so, rather
	// than showing a retry whose time has passed, and is not queried:
	// the query needs a worker on its queue.
	noWorker := workflows.Unpolled(ctx, t.c, workflows.Waiting(desc, workflows.RunQueues(ctx, t.c, t.namespace, info)))
	var progress *workflows.Progress
	if !slices.Contains(noWorker, info.GetTaskQueue()) {
		qctx, cancel := context.WithTimeout(ctx, progressTimeout)
		defer cancel()
		if p, err := workflows.QueryProgress(qctx, t.c, info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId(), desc); err == nil {
			progress = &p
		}
	}
	return progress, noWorker, workflows.Retrying(desc)
}

// failure returns why a run that did not complete ended, "" when that
// cannot be read.
func (t *temporalTrainer) failure(ctx context.Context, id, runID string) string {
	// Get returns the run's failure for every closed state but completed.
	if err := t.c.GetWorkflow(ctx, id, runID).Get(ctx, nil); err != nil {
		return rootCause(err)
	}
	return ""
}

func (t *temporalTrainer) List(ctx context.Context, f runFilter, limit int, page []byte) ([]training, []byte, error) {
	infos, next, err := t.list(ctx, workflows.TrainingWorkflowType, f, limit, page)
	out := make([]training, 0, len(infos))
	for _, info := range infos {
		out = append(out, t.fromInfo(info))
	}
	return out, next, err
}

// ListBatches lists batch predictions as List lists trainings.
func (t *temporalTrainer) ListBatches(ctx context.Context, f runFilter, limit int, page []byte) ([]batchRun, []byte, error) {
	rs, next, err := t.listStageRuns(ctx, workflows.BatchWorkflowType, f, limit, page)
	out := make([]batchRun, len(rs))
	for i, r := range rs {
		out[i] = batchRun{stageRun: r}
	}
	return out, next, err
}

// list reads a page of the runs of workflow type typ that f selects,
// newest-started first.
func (t *temporalTrainer) list(ctx context.Context, typ string, f runFilter, limit int, page []byte) ([]*workflowpb.WorkflowExecutionInfo, []byte, error) {
	query := fmt.Sprintf("WorkflowType = '%s'", typ)
	if f.Model != "" {
		// Model names are checked to be letters, digits and . _ - only.
		query += fmt.Sprintf(" AND ModelName = '%s'", f.Model)
	}
	if s, ok := visibilityStatus[f.Status]; ok {
		query += fmt.Sprintf(" AND ExecutionStatus = '%s'", s)
	}
	resp, err := t.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace:     t.namespace,
		PageSize:      int32(limit),
		NextPageToken: page,
		Query:         query,
	})
	if err != nil {
		return nil, nil, err
	}
	infos := resp.GetExecutions()
	// Visibility stores differ in their default order; a page is newest
	// first here.
	slices.SortStableFunc(infos, func(a, b *workflowpb.WorkflowExecutionInfo) int {
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	return infos[:min(len(infos), limit)], resp.GetNextPageToken(), nil
}

// visibilityStatus names the statuses of runStatuses as Temporal's
// visibility queries do.
var visibilityStatus = map[string]string{
	"running": "Running", "completed": "Completed", "failed": "Failed",
	"canceled": "Canceled", "terminated": "Terminated", "timed_out": "TimedOut",
}

// Cancel asks run runID of workflow id to stop. The pipeline lets the
// stage under way stop, marks its registry run canceled and ends canceled.
func (t *temporalTrainer) Cancel(ctx context.Context, id, runID string) error {
	err := t.c.CancelWorkflow(ctx, id, runID)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// It was running when read: it has ended since.
		return errorf(http.StatusConflict, codeConflict, "training %s has ended; there is nothing to cancel", id)
	}
	return err
}

func (t *temporalTrainer) fromInfo(info *workflowpb.WorkflowExecutionInfo) training {
	tr := training{
		WorkflowID: info.GetExecution().GetWorkflowId(),
		RunID:      info.GetExecution().GetRunId(),
		Status:     workflows.StatusName(info.GetStatus()),
		StartTime:  info.GetStartTime().AsTime(),
	}
	if ct := info.GetCloseTime(); ct != nil && info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		c := ct.AsTime()
		tr.CloseTime = &c
	}
	tr.UIURL = workflows.UILink(t.uiURL, t.namespace, tr.WorkflowID, tr.RunID)
	attrs := info.GetSearchAttributes().GetIndexedFields()
	decode(attrs, "ModelName", &tr.ModelName)
	decode(attrs, "ModelVersion", &tr.ModelVersion)
	var f1 float64
	if decode(attrs, "WeightedF1", &f1) {
		tr.WeightedF1 = &f1
	}
	var promoted bool
	if decode(attrs, "Promoted", &promoted) {
		tr.Promoted = &promoted
	}
	return tr
}

// decode reads one search attribute into v and reports whether it was set.
func decode(attrs map[string]*commonpb.Payload, name string, v any) bool {
	p, ok := attrs[name]
	return ok && converter.GetDefaultDataConverter().FromPayload(p, v) == nil
}

// rootCause returns the innermost message of a workflow failure, which is
// the one that says what went wrong (the activity's error), without the
// SDK's "(type: …, retryable: …)" after an application error's.
func rootCause(err error) string {
	msg := err.Error()
	for ; err != nil; err = errors.Unwrap(err) {
		msg = err.Error()
		if app, ok := err.(*temporal.ApplicationError); ok {
			msg = app.Message()
		}
	}
	return msg
}
