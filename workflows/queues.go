package workflows

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// TaskQueue is a task queue a run needs a worker on, and for what.
type TaskQueue struct {
	Name string
	Kind enumspb.TaskQueueType
}

// RunQueues returns the task queues a running TrainingPipeline needs, read
// from the run itself, which a schedule, the API or another starter may
// have started on other queues than the caller's settings name: its own
// (workflow and light activities), and the training queue its parameters
// name for the heavy stages.
func RunQueues(ctx context.Context, c client.Client, namespace string, info *workflowpb.WorkflowExecutionInfo) []TaskQueue {
	qs := []TaskQueue{{info.GetTaskQueue(), enumspb.TASK_QUEUE_TYPE_WORKFLOW}}
	// The first event alone, not a page of the whole history.
	h, err := c.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: namespace, Execution: info.GetExecution(), MaximumPageSize: 1,
	})
	if err != nil || len(h.GetHistory().GetEvents()) == 0 {
		return qs
	}
	var p TrainingParams
	started := h.GetHistory().GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	if started == nil || converter.GetDefaultDataConverter().FromPayloads(started.GetInput(), &p) != nil {
		return qs
	}
	if p.TrainingQueue != "" && p.TrainingQueue != info.GetTaskQueue() {
		qs = append(qs, TaskQueue{p.TrainingQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY})
	}
	return qs
}

// Waiting returns the queues of queues a run described by desc waits on:
// its workflow queue always, and an activity queue only while one of its
// activities is scheduled and not yet started. A worker busy with as many
// activities as it runs at once (the training worker runs one) polls no
// more until one ends, so its queue shows no poller though the run is not
// waiting.
func Waiting(desc *workflowservice.DescribeWorkflowExecutionResponse, queues []TaskQueue) []TaskQueue {
	scheduled := false
	for _, a := range desc.GetPendingActivities() {
		scheduled = scheduled || a.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED
	}
	var out []TaskQueue
	for _, q := range queues {
		if q.Kind == enumspb.TASK_QUEUE_TYPE_WORKFLOW || scheduled {
			out = append(out, q)
		}
	}
	return out
}

// Unpolled returns the names of the queues no worker polls. A queue that
// cannot be checked is left out: Temporal being unwell shows elsewhere.
func Unpolled(ctx context.Context, c client.Client, queues []TaskQueue) []string {
	var out []string
	for _, q := range queues {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		d, err := c.DescribeTaskQueue(qctx, q.Name, q.Kind)
		cancel()
		if err == nil && !polled(d.GetPollers(), time.Now()) {
			out = append(out, q.Name)
		}
	}
	return out
}

// pollerGone is how long after its last poll a worker counts as gone. An
// idle worker polls again within about 70 s (a long poll's limit), while
// Temporal lists a worker for some 5 minutes after its last poll.
const pollerGone = 2 * time.Minute

// polled reports whether one of pollers polled within pollerGone of now.
func polled(pollers []*taskqueuepb.PollerInfo, now time.Time) bool {
	for _, p := range pollers {
		if t := p.GetLastAccessTime(); t == nil || now.Sub(t.AsTime()) < pollerGone {
			return true
		}
	}
	return false
}

// RetryingStage is a stage of a running run that failed at least once and
// is to be tried again: its activity, the attempt under way or next, the
// last failure and, when it waits for its retry, when that comes.
type RetryingStage struct {
	Activity  string    `json:"activity"`
	Attempt   int       `json:"attempt"`
	LastError string    `json:"last_error"`
	NextTry   time.Time `json:"next_try,omitzero"`
}

// Retrying returns the stages of a run, as described, that are being
// retried.
func Retrying(desc *workflowservice.DescribeWorkflowExecutionResponse) []RetryingStage {
	var out []RetryingStage
	for _, a := range desc.GetPendingActivities() {
		if f := a.GetLastFailure(); f != nil && a.GetAttempt() > 1 {
			r := RetryingStage{Activity: a.GetActivityType().GetName(), Attempt: int(a.GetAttempt()), LastError: f.GetMessage()}
			if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED && a.GetScheduledTime() != nil {
				r.NextTry = a.GetScheduledTime().AsTime()
			}
			out = append(out, r)
		}
	}
	return out
}
