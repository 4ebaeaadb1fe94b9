package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/workflows"
)

// A run whose task queue nobody polls gets a warning instead of a silent
// wait, and a note when a worker turns up.
func TestWatchWorkersWarnsWithoutWorker(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	log, hook := test.NewNullLogger()
	a := &app{cfg: cfg, log: log, stdout: io.Discard, stderr: io.Discard}
	queue := fmt.Sprintf("no-worker-%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.watchWorkers(ctx, c, 50*time.Millisecond, nil, workflows.TaskQueue{Name: queue, Kind: enumspb.TASK_QUEUE_TYPE_WORKFLOW})
	}()
	defer func() { cancel(); <-done }()

	waitForLog(t, hook, logrus.WarnLevel, "no worker is polling")
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "noop"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	waitForLog(t, hook, logrus.InfoLevel, "a worker now polls")
	warnings := 0
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings, want 1 (once per queue)", warnings)
	}
}

// waitForLog waits, a minute at most, for a log entry at level containing msg.
func waitForLog(t *testing.T, hook *test.Hook, level logrus.Level, msg string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, e := range hook.AllEntries() {
			if e.Level == level && strings.Contains(e.Message, msg) {
				return
			}
		}
	}
	t.Fatalf("no %s log with %q", level, msg)
}

// fakeRun fails its first Gets as a Temporal that does not answer, then
// gives a result, or ends as a failed run.
type fakeRun struct {
	client.WorkflowRun
	lost int
	end  error
	gets int
}

func (f *fakeRun) GetID() string { return "train-x" }

func (f *fakeRun) Get(_ context.Context, v any) error {
	f.gets++
	if f.gets <= f.lost {
		return serviceerror.NewUnavailable("connection refused")
	}
	if f.end != nil {
		return f.end
	}
	v.(*workflows.TrainingResult).Version = 3
	return nil
}

// Losing contact with Temporal is not the run failing: the starter waits
// on, and a run that ended is reported at once.
func TestWaitResultOutlivesTemporalOutage(t *testing.T) {
	log, hook := test.NewNullLogger()
	a := &app{log: log, stdout: io.Discard, stderr: io.Discard}
	run := &fakeRun{lost: 2}
	var res workflows.TrainingResult
	err := a.waitResult(t.Context(), run, &res)
	if err != nil || res.Version != 3 || run.gets != 3 {
		t.Fatalf("result %+v, err %v after %d gets; want version 3 after 3", res, err, run.gets)
	}
	if n := len(hook.AllEntries()); n != 2 {
		t.Errorf("%d log lines, want a warning per lost contact", n)
	}
	failed := &temporal.WorkflowExecutionError{}
	run = &fakeRun{end: failed}
	if err := a.waitResult(t.Context(), run, &res); !errors.Is(err, failed) || run.gets != 1 {
		t.Errorf("a failed run: %v after %d gets", err, run.gets)
	}
	// A run Temporal does not know (past retention, another namespace)
	// is not waited for.
	gone := serviceerror.NewNotFound("workflow not found")
	run = &fakeRun{end: gone}
	if err := a.waitResult(t.Context(), run, &res); !errors.Is(err, gone) || run.gets != 1 {
		t.Errorf("a run Temporal does not know: %v after %d gets", err, run.gets)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	run = &fakeRun{lost: 1 << 30}
	if err := a.waitResult(ctx, run, &res); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted: %v", err)
	}
}

// cancel asks a running training to stop, which Temporal records; an
// unknown or ended workflow is refused.
func TestCancel(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	t.Setenv("PRODCAT_LOG_LEVEL", "warn")
	id := fmt.Sprintf("starter-cancel-%d", time.Now().UnixNano())
	// On a queue no worker serves, so it stays running.
	wr, err := workflows.StartTraining(t.Context(), c, "starter-cancel-no-worker", id,
		workflows.TrainingParams{ModelName: cfg.ModelName, Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), id, "", "test done") })
	out, err := run(t, "cancel", id)
	if err != nil || !strings.Contains(out, `"cancel_requested"`) || !strings.Contains(out, wr.GetRunID()) {
		t.Fatalf("cancel: %q, %v", out, err)
	}
	it := c.GetWorkflowHistory(t.Context(), id, wr.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	requested := false
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		requested = requested || e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
	}
	if !requested {
		t.Error("the history has no cancel request")
	}
	if _, err := run(t, "cancel", id+"-nosuch"); err == nil || !strings.Contains(err.Error(), "no workflow") {
		t.Errorf("cancel of an unknown workflow: %v", err)
	}
	if err := c.TerminateWorkflow(t.Context(), id, "", "ended"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"cancel", id}, {"cancel", id, "--run-id", wr.GetRunID()}} {
		if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "has ended (terminated)") {
			t.Errorf("%v of an ended workflow: %v", args, err)
		}
	}
}

// A canceled training watched with --wait is said to be canceled, as the
// API says of it, not failed.
func TestWatchSaysCanceled(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	log, _ := test.NewNullLogger()
	a := &app{cfg: cfg, log: log, stdout: io.Discard, stderr: io.Discard}
	queue := fmt.Sprintf("starter-watch-cancel-%d", time.Now().UnixNano())
	w := worker.New(c, queue, worker.Options{})
	// Stands in for the pipeline: in a stage until canceled, then "failed"
	// while it records the end, and ends with the stage's error.
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, _ workflows.TrainingParams) (workflows.TrainingResult, error) {
		p := workflows.Progress{Stage: "train", Percent: 40, Done: []string{"ingest", "features"}}
		if err := workflow.SetQueryHandler(ctx, workflows.ProgressQuery, func() (workflows.Progress, error) { return p, nil }); err != nil {
			return workflows.TrainingResult{}, err
		}
		err := workflow.NewTimer(ctx, time.Hour).Get(ctx, nil)
		p.Stage = "failed"
		return workflows.TrainingResult{}, err
	}, workflow.RegisterOptions{Name: workflows.TrainingWorkflowType})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, workflows.TrainingWorkflowType, workflows.TrainingParams{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(time.Second) // so the watcher sees the stage first
		_ = c.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID())
	}()
	err = a.watch(t.Context(), c, run, trainingKind, a.runQueues(), &workflows.TrainingResult{})
	if want := "training " + queue + " was canceled"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestRunError(t *testing.T) {
	for _, tc := range []struct {
		kind string
		err  error
		want string
	}{
		{trainingKind, nil, ""},
		{trainingKind, fmt.Errorf("workflow execution error: %w", temporal.NewCanceledError()), "training t was canceled"},
		{trainingKind, temporal.NewNonRetryableApplicationError("3 rows", "BadData", nil), "training t failed (BadData): 3 rows"},
		{trainingKind, errors.New("boom"), "training t failed: boom"},
		{trainingKind, fmt.Errorf("workflow execution error: %w", &temporal.TerminatedError{}), "training t was terminated (in the Temporal UI or CLI); it ran no more code, so its registry run is marked failed by the worker later"},
		// A batch prediction has no registry run to mark.
		{batchKind, fmt.Errorf("workflow execution error: %w", &temporal.TerminatedError{}), "batch prediction t was terminated (in the Temporal UI or CLI)"},
		{batchKind, temporal.NewNonRetryableApplicationError("no production version", "NoModel", nil), "batch prediction t failed (NoModel): no production version"},
	} {
		err := runError(tc.kind, "t", tc.err)
		if got := fmt.Sprint(err); (err == nil) != (tc.want == "") || err != nil && got != tc.want {
			t.Errorf("runError(%v) = %v, want %q", tc.err, err, tc.want)
		}
	}
}

// Each retry of a stage is told once, with its last failure.
func TestReportRetries(t *testing.T) {
	log, hook := test.NewNullLogger()
	a := &app{log: log, stdout: io.Discard, stderr: io.Discard}
	describe := func(attempt int32) *workflowservice.DescribeWorkflowExecutionResponse {
		return &workflowservice.DescribeWorkflowExecutionResponse{PendingActivities: []*workflowpb.PendingActivityInfo{
			{ActivityType: &commonpb.ActivityType{Name: "Train"}, Attempt: attempt, LastFailure: &failurepb.Failure{Message: "activity Heartbeat timeout"}},
			{ActivityType: &commonpb.ActivityType{Name: "Evaluate"}, Attempt: 1},
		}}
	}
	retried := map[string]int{}
	for _, attempt := range []int32{2, 2, 3} {
		a.reportRetries(describe(attempt), retried)
	}
	var got []string
	for _, e := range hook.AllEntries() {
		got = append(got, fmt.Sprintf("%s %v %v %v", e.Message, e.Data["stage"], e.Data["attempt"], e.Data["last_error"]))
	}
	want := []string{
		"a stage failed and is tried again Train 2 activity Heartbeat timeout",
		"a stage failed and is tried again Train 3 activity Heartbeat timeout",
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}
