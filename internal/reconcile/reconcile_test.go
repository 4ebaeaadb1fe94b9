package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/workflows"
)

type fakeRegistry struct {
	runs     []registry.Run
	finished map[int64]string
}

// RunningRuns pages as the registry does, two at a time.
func (f *fakeRegistry) RunningRuns(_ context.Context, _ time.Time, after int64, _ int) ([]registry.Run, error) {
	var out []registry.Run
	for _, r := range f.runs {
		if r.ID > after && len(out) < 2 {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeRegistry) FinishRun(_ context.Context, id int64, status registry.RunStatus, why string) error {
	if id == 5 {
		return fmt.Errorf("finish run 5: %w", registry.ErrRunFinished) // it finished meanwhile
	}
	f.finished[id] = string(status) + ": " + why
	return nil
}

// fakeTemporal knows workflows by ID: the status of run "r", and of the
// latest run when a later one exists. Others are not found.
type fakeTemporal struct {
	status, latest map[string]enumspb.WorkflowExecutionStatus
}

func (f fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if id == "flaky" {
		return nil, serviceerror.NewUnavailable("connection refused")
	}
	st, ok := f.status[id]
	if l, later := f.latest[id]; later && runID == "" {
		st = l
	}
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: st}}, nil
}

func TestRunsMarksOnlyWorkflowsThatCannotRecordTheirEnd(t *testing.T) {
	reg := &fakeRegistry{finished: map[int64]string{}}
	tc := fakeTemporal{status: map[string]enumspb.WorkflowExecutionStatus{
		"terminated": enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED,
		"running":    enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		"timed-out":  enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
		"raced":      enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED,
		"failed":     enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, // its record of the failure gave up
		"canceled":   enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED,
		"completed":  enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, // its run ended with its registration
		"reset":      enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED,
	}, latest: map[string]enumspb.WorkflowExecutionStatus{
		"reset": enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, // goes on with the same registry row
	}}
	// "gone" is another namespace's, or past retention: left alone.
	for i, id := range []string{"terminated", "running", "gone", "timed-out", "raced", "failed", "canceled", "completed", "reset", "flaky"} {
		reg.runs = append(reg.runs, registry.Run{ID: int64(i + 1), WorkflowID: id, WorkflowRunID: "r"})
	}
	log, hook := test.NewNullLogger()
	n, err := Runs(t.Context(), reg, tc, time.Now(), log)
	if err != nil || n != 4 {
		t.Fatalf("finished %d, %v; want 4", n, err)
	}
	for id, want := range map[int64]string{
		1: "failed: workflow terminated/r was terminated without recording its end",
		4: "failed: workflow timed-out/r timed out without recording its end",
		6: "failed: workflow failed/r failed without recording its end",
		7: "canceled: workflow canceled/r was canceled without recording its end",
	} {
		if got := reg.finished[id]; got != want {
			t.Errorf("run %d: %q, want %q", id, got, want)
		}
	}
	if len(reg.finished) != 4 || len(hook.AllEntries()) != 5 {
		t.Errorf("finished %v with %d log lines (want 4 and a warning for the flaky one)", reg.finished, len(hook.AllEntries()))
	}
}

// Against the real registry and Temporal: a training terminated before it
// could record its end is marked failed; a running one is left alone.
func TestRunsOnRealServices(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	reg, _ := servingtest.Registry(t, cfg.DatabaseURL)
	ctx := t.Context()
	model := servingtest.RandomName("reconcile-")
	var runs []registry.Run
	for _, name := range []string{"terminated", "running"} {
		id := model + "-" + name
		// On a queue no worker serves, so it runs no code of its own.
		wr, err := workflows.StartTraining(ctx, c, model+"-no-worker", id,
			workflows.TrainingParams{ModelName: model, Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), id, "", "test done") })
		run, err := reg.StartRun(ctx, registry.Run{Model: model, WorkflowID: id, WorkflowRunID: wr.GetRunID()})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	if err := c.TerminateWorkflow(ctx, runs[0].WorkflowID, runs[0].WorkflowRunID, "by hand"); err != nil {
		t.Fatal(err)
	}
	log, _ := test.NewNullLogger()
	if _, err := Runs(ctx, reg, c, time.Now().Add(time.Minute), log); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Run(ctx, runs[0].ID)
	if err != nil || got.Status != registry.RunFailed || !strings.Contains(got.Error, "was terminated") {
		t.Errorf("terminated run: %+v, %v", got, err)
	}
	if got, err := reg.Run(ctx, runs[1].ID); err != nil || got.Status != registry.RunRunning {
		t.Errorf("running run: %+v, %v", got, err)
	}
}
