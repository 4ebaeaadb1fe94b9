// Package reconcile finishes registry runs whose workflow ended without
// recording their end: a workflow terminated or timed out runs no more
// code, and one that failed while the registry stayed out of reach for
// longer than its record's retries (or that predates recording a failed
// Ingest) left its run running.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/prodcat/prodcat/internal/registry"
)

// Registry is what a reconciler reads and writes; *registry.Registry.
type Registry interface {
	RunningRuns(ctx context.Context, before time.Time, afterID int64, limit int) ([]registry.Run, error)
	FinishRun(ctx context.Context, runID int64, status registry.RunStatus, errText string) error
}

// Temporal describes workflow executions; client.Client.
type Temporal interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// page is how many runs one registry read returns.
const page = 100

// Runs checks the runs marked running that started before before against
// Temporal and finishes those whose workflow has closed: canceled if it was
// cancelled, failed otherwise, unless a later run of the same workflow ID
// is running (a reset goes on with the first run's registry row). A
// workflow records its own end before it closes, so a run still running
// then never will be; a workflow that completed is left alone, as its run
// ends in the same transaction as its registration, and so is one
// Temporal does not know (another namespace's, or one past retention). A
// run that cannot be checked is logged and skipped. It returns how many it
// finished.
func Runs(ctx context.Context, reg Registry, tc Temporal, before time.Time, log logrus.FieldLogger) (int, error) {
	marked := 0
	for after := int64(0); ; {
		runs, err := reg.RunningRuns(ctx, before, after, page)
		if err != nil || len(runs) == 0 {
			return marked, err
		}
		for _, run := range runs {
			after = run.ID
			fields := logrus.Fields{"run": run.ID, "model": run.Model, "workflow_id": run.WorkflowID, "workflow_run_id": run.WorkflowRunID}
			status, why, err := ended(ctx, tc, run)
			if err != nil {
				if ctx.Err() != nil {
					return marked, ctx.Err()
				}
				log.WithFields(fields).WithError(err).Warn("reconcile: cannot check the run; trying again later")
				continue
			}
			if why == "" {
				continue
			}
			err = reg.FinishRun(ctx, run.ID, status, why)
			if errors.Is(err, registry.ErrRunFinished) {
				continue // it recorded its end meanwhile
			}
			if err != nil {
				return marked, err
			}
			marked++
			log.WithFields(fields).WithFields(logrus.Fields{"status": status, "reason": why}).Warn("reconcile: finished a run whose workflow could not record its end")
		}
	}
}

// ended says how run should end and why, as its workflow can no longer
// record its end, or "" when it still can or Temporal does not know it.
func ended(ctx context.Context, tc Temporal, run registry.Run) (registry.RunStatus, string, error) {
	d, err := tc.DescribeWorkflowExecution(ctx, run.WorkflowID, run.WorkflowRunID)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("describe workflow %s: %w", run.WorkflowID, err)
	}
	status, how := registry.RunFailed, ""
	switch d.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		how = "was terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		how = "timed out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		how = "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		status, how = registry.RunCanceled, "was canceled"
	default:
		return "", "", nil
	}
	// A reset terminates the run it resets; the new run replays Ingest and
	// goes on with the same registry row.
	latest, err := tc.DescribeWorkflowExecution(ctx, run.WorkflowID, "")
	if err != nil && !errors.As(err, &nf) {
		return "", "", fmt.Errorf("describe workflow %s: %w", run.WorkflowID, err)
	}
	if err == nil && latest.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", "", nil
	}
	return status, fmt.Sprintf("workflow %s/%s %s without recording its end", run.WorkflowID, run.WorkflowRunID, how), nil
}

// minAge is how long ago a run must have started to be checked: long
// enough for a run just started to be visible, and short enough that a
// terminated one is marked by the next pass.
const minAge = time.Minute

// Every runs Runs now and then every interval, on runs started more than
// minAge before, until ctx ends. Failures are logged and tried again next
// time.
func Every(ctx context.Context, interval time.Duration, reg Registry, tc Temporal, log logrus.FieldLogger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := Runs(ctx, reg, tc, time.Now().Add(-minAge), log); err != nil && ctx.Err() == nil {
			log.WithError(err).Warn("reconcile: cannot check the running runs; trying again later")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
