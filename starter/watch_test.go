package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/workflows"
)

// watch follows a running training, batch prediction or comparison to its result,
// prints an ended one's result at once, says how a failed one failed, and
// refuses workflows of other kinds.
func TestWatch(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	t.Setenv("PRODCAT_LOG_LEVEL", "warn")
	queue := fmt.Sprintf("starter-watch-%d", time.Now().UnixNano())
	w := worker.New(c, queue, worker.Options{})
	// Stands in for the pipeline: version 7 after a second, or the failure
	// its model name asks for.
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, p workflows.TrainingParams) (workflows.TrainingResult, error) {
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return workflows.TrainingResult{}, err
		}
		if p.ModelName == "bad" {
			return workflows.TrainingResult{}, temporal.NewNonRetryableApplicationError("too many rejected rows", "BadData", nil)
		}
		return workflows.TrainingResult{ModelName: p.ModelName, Version: 7, Alias: "production", Reason: "first model"}, nil
	}, workflow.RegisterOptions{Name: workflows.TrainingWorkflowType})
	// Stands in for a batch prediction: 12 rows after a second, or no model.
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in activities.BatchPredictInput) (activities.BatchPredictResult, error) {
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return activities.BatchPredictResult{}, err
		}
		if in.ModelName == "none" {
			return activities.BatchPredictResult{}, temporal.NewNonRetryableApplicationError("model none has no production version yet", activities.ErrNoModel, nil)
		}
		return activities.BatchPredictResult{PredictionsKey: "predictions/p.csv", Rows: 12, ModelVersion: 4}, nil
	}, workflow.RegisterOptions{Name: workflows.BatchWorkflowType})
	// Stands in for a comparison.
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in activities.CompareInput) (activities.Comparison, error) {
		return activities.Comparison{Model: in.ModelName, Rows: 5, Versions: []activities.VersionScore{{Version: 2, WeightedF1: 0.5}}}, nil
	}, workflow.RegisterOptions{Name: workflows.CompareWorkflowType})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "NotATraining"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := func(name, typ string, p ...any) client.WorkflowRun {
		t.Helper()
		run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: queue + "-" + name, TaskQueue: queue}, typ, p...)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}

	good := start("good", workflows.TrainingWorkflowType, workflows.TrainingParams{ModelName: "m"})
	out, err := run(t, "watch", good.GetID())
	if err != nil || !strings.Contains(out, "version 7 → production") {
		t.Fatalf("watching a running training: %q, %v", out, err)
	}
	// Ended: the same result, from the run named.
	out, err = run(t, "watch", good.GetID(), "--run-id", good.GetRunID(), "--json")
	if err != nil || !strings.Contains(out, `"version": 7`) {
		t.Errorf("watching an ended training: %q, %v", out, err)
	}

	bad := start("bad", workflows.TrainingWorkflowType, workflows.TrainingParams{ModelName: "bad"})
	if _, err := run(t, "watch", bad.GetID()); err == nil || err.Error() != "training "+bad.GetID()+" failed (BadData): too many rejected rows" {
		t.Errorf("watching a failing training: %v", err)
	}
	// With --json, how it ended is printed too, for scripts.
	out, err = run(t, "watch", bad.GetID(), "--json")
	var ended runEnded
	if jerr := json.Unmarshal([]byte(out), &ended); err == nil || jerr != nil ||
		ended.Status != "failed" || ended.ErrorType != "BadData" || ended.Reason != "too many rejected rows" {
		t.Errorf("watching a failing training with --json: %q, %v", out, err)
	}
	batch := start("batch", workflows.BatchWorkflowType, activities.BatchPredictInput{ModelName: "m"})
	out, err = run(t, "watch", batch.GetID())
	var predicted activities.BatchPredictResult
	if jerr := json.Unmarshal([]byte(out), &predicted); err != nil || jerr != nil || predicted.Rows != 12 || predicted.PredictionsKey != "predictions/p.csv" {
		t.Errorf("watching a batch prediction: %q, %v", out, err)
	}
	noModel := start("nomodel", workflows.BatchWorkflowType, activities.BatchPredictInput{ModelName: "none"})
	if _, err := run(t, "watch", noModel.GetID()); err == nil || err.Error() != "batch prediction "+noModel.GetID()+" failed (NoModel): model none has no production version yet" {
		t.Errorf("watching a failing batch prediction: %v", err)
	}

	comparison := start("compare", workflows.CompareWorkflowType, activities.CompareInput{ModelName: "m", Versions: []int{2}})
	out, err = run(t, "watch", comparison.GetID())
	var compared activities.Comparison
	if jerr := json.Unmarshal([]byte(out), &compared); err != nil || jerr != nil || compared.Rows != 5 || len(compared.Versions) != 1 {
		t.Errorf("watching a comparison: %q, %v", out, err)
	}

	other := start("other", "NotATraining")
	if _, err := run(t, "watch", other.GetID()); err == nil || !strings.Contains(err.Error(), "is a NotATraining, not a training, a batch prediction or a comparison") {
		t.Errorf("watching another kind of workflow: %v", err)
	}
	if _, err := run(t, "watch", queue+"-nosuch"); err == nil || !strings.Contains(err.Error(), "no workflow") {
		t.Errorf("watching an unknown workflow: %v", err)
	}

	// The queues checked for workers are the run's, not this starter's.
	heavy := start("queues", workflows.TrainingWorkflowType, workflows.TrainingParams{ModelName: "m", TrainingQueue: queue + "-heavy"})
	d, err := c.DescribeWorkflowExecution(t.Context(), heavy.GetID(), heavy.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	want := []workflows.TaskQueue{{Name: queue, Kind: enumspb.TASK_QUEUE_TYPE_WORKFLOW}, {Name: queue + "-heavy", Kind: enumspb.TASK_QUEUE_TYPE_ACTIVITY}}
	if got := workflows.RunQueues(t.Context(), c, cfg.Temporal.Namespace, d.GetWorkflowExecutionInfo()); !slices.Equal(got, want) {
		t.Errorf("queues of a run = %v, want %v", got, want)
	}
}
