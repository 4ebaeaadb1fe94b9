package workflows

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/activities"
)

// This file is the client side of TrainingPipeline, shared by the starter
// and the API: starting a run and reading its progress.

// TrainingWorkflowType is the workflow type name of TrainingPipeline.
const TrainingWorkflowType = "TrainingPipeline"

// BatchWorkflowType is the workflow type name of BatchPredict.
const BatchWorkflowType = "BatchPredict"

// CompareWorkflowType is the workflow type name of CompareVersions.
const CompareWorkflowType = "CompareVersions"

// workflowIDPattern keeps workflow IDs readable and safe in URLs.
var workflowIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$`)

// CheckWorkflowID refuses a training's workflow ID that the API and the
// starter do not take, saying what they do.
func CheckWorkflowID(id string) error {
	if !workflowIDPattern.MatchString(id) {
		return errors.New("want up to 200 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	return nil
}

// CheckRunID refuses what is not a Temporal run ID, a UUID in its
// 36-character form, which Temporal refuses with a bare "Invalid RunId.".
func CheckRunID(runID string) error {
	if _, err := uuid.Parse(runID); err != nil || len(runID) != 36 {
		return errors.New("want a run ID, a UUID such as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
	}
	return nil
}

// StartTraining starts TrainingPipeline on queue with a meaningful ID
// (train-<model>-<UTC time> when id is empty), a summary for the Temporal
// UI and the ModelName search attribute. An ID that is or was in use fails
// with *serviceerror.WorkflowExecutionAlreadyStarted.
func StartTraining(ctx context.Context, c client.Client, queue, id string, p TrainingParams) (client.WorkflowRun, error) {
	src := p.Source.CSVKey
	switch {
	case p.Source.Feed != "":
		src = "feed " + p.Source.Feed
	case src == "":
		src = p.Source.XKey
	}
	return startRun(ctx, c, queue, cmp.Or(id, defaultWorkflowID("train", p.ModelName)), p.ModelName, "training",
		fmt.Sprintf("train %s on %s", p.ModelName, src), TrainingPipeline, p)
}

// StartBatchPredict starts BatchPredict on queue as id
// (predict-<model>-<UTC time> when id is empty), with a summary for the
// Temporal UI and the ModelName search attribute, so the UI lists a
// model's batch predictions beside its trainings. An ID that is or was in
// use fails with *serviceerror.WorkflowExecutionAlreadyStarted, so a job
// that retries with its own ID starts one run.
func StartBatchPredict(ctx context.Context, c client.Client, queue, id string, in activities.BatchPredictInput) (client.WorkflowRun, error) {
	return startRun(ctx, c, queue, cmp.Or(id, defaultWorkflowID("predict", in.ModelName)), in.ModelName, "batch prediction",
		fmt.Sprintf("batch prediction of %s%s with %s", in.XKey, in.CSVKey, in.ModelName), BatchPredict, in)
}

// StartCompareVersions starts CompareVersions as StartBatchPredict starts
// BatchPredict, as id or compare-<model>-<UTC time>.
func StartCompareVersions(ctx context.Context, c client.Client, queue, id string, in activities.CompareInput) (client.WorkflowRun, error) {
	vs := make([]string, len(in.Versions))
	for i, v := range in.Versions {
		vs[i] = "v" + strconv.Itoa(v)
	}
	return startRun(ctx, c, queue, cmp.Or(id, defaultWorkflowID("compare", in.ModelName)), in.ModelName, "comparison",
		fmt.Sprintf("compare %s %s on %s%s", in.ModelName, strings.Join(vs, ", "), in.Source.XKey, in.Source.CSVKey), CompareVersions, in)
}

// defaultWorkflowID is a run's workflow ID when none is given:
// what-<model>-<UTC time>.
func defaultWorkflowID(what, model string) string {
	return fmt.Sprintf("%s-%s-%s", what, model, time.Now().UTC().Format("20060102T150405.000Z"))
}

// startRun starts workflow wf(in) for model as id, with a summary for the
// Temporal UI and the ModelName search attribute. An ID in use is an
// error, not a handle on someone else's run. what names the run in errors.
func startRun(ctx context.Context, c client.Client, queue, id, model, what, summary string, wf, in any) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: queue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            summary,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrModelName.ValueSet(model)),
	}, wf, in)
	if err != nil {
		return nil, fmt.Errorf("start %s %s: %w", what, id, err)
	}
	return run, nil
}

// QueryProgress returns the progress of a running TrainingPipeline,
// BatchPredict or CompareVersions: the progress query's answer, with the
// percentage refined by the heartbeat of the stage in flight, so it moves
// inside a long stage.
// desc is the run's description when the caller has read it already, else
// nil. The query needs a worker; give ctx a deadline.
func QueryProgress(ctx context.Context, c client.Client, id, runID string, desc *workflowservice.DescribeWorkflowExecutionResponse) (Progress, error) {
	v, err := c.QueryWorkflow(ctx, id, runID, ProgressQuery)
	if err != nil {
		return Progress{}, fmt.Errorf("query progress of %s: %w", id, err)
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		return Progress{}, fmt.Errorf("query progress of %s: %w", id, err)
	}
	if p.Done == nil {
		p.Done = []string{} // a list, as documented, also from workers before it was one
	}
	if desc == nil {
		var err error
		if desc, err = c.DescribeWorkflowExecution(ctx, id, runID); err != nil {
			return p, nil // the query's figure is still right, only coarser
		}
	}
	for _, pa := range desc.GetPendingActivities() {
		payloads := pa.GetHeartbeatDetails().GetPayloads()
		if len(payloads) == 0 {
			continue
		}
		var sp activities.StageProgress
		if json.Unmarshal(payloads[0].GetData(), &sp) != nil {
			continue
		}
		if sp.Total > 0 {
			p.Percent += int(int64(StageShare(sp.Stage)) * sp.Done / sp.Total)
		}
		p.WaitingForDataSlot = p.WaitingForDataSlot || sp.WaitingForDataSlot
	}
	p.Percent = min(p.Percent, 100)
	return p, nil
}

// UILink returns the address of a workflow run's page in the Temporal UI
// at base.
func UILink(base, namespace, id, runID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history",
		base, url.PathEscape(namespace), url.PathEscape(id), url.PathEscape(runID))
}

// StatusName names a workflow execution status as the API and the starter
// show it: running, completed, failed, canceled, terminated, timed_out or
// continued_as_new.
func StatusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed_out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued_as_new"
	}
	return "unknown"
}
