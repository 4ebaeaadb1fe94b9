package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/workflows"
)

func newWatchCmd() *cobra.Command {
	var (
		runID  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "watch WORKFLOW_ID",
		Short: "follow a training, batch prediction or comparison started earlier: its progress while it runs, then its result",
		Long: `watch attaches to a TrainingPipeline run, such as one started without --wait, by a
schedule or through the API, to a BatchPredict run that predict-batch or the API started, or
to a CompareVersions run that the API started (POST /v1/comparisons). It shows
the progress of a running one until it ends and prints the result as train --wait and
predict-batch do; for one that has ended it prints the result at once. The exit status is 1
when the run failed or was canceled. Interrupting watch leaves the run going.`,
		Example: `  starter watch train-prdtypecode-20261122T101500.000Z
  starter watch retrain-nightly-2026-11-22T03:00:00Z --json
  starter watch predict-prdtypecode-20261122T101500.000Z`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error { return checkRunIDFlag(runID) },
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			id := args[0]
			c, info, err := a.describeWorkflow(ctx, "watch", id, runID, "a training, a batch prediction or a comparison",
				workflows.TrainingWorkflowType, workflows.BatchWorkflowType, workflows.CompareWorkflowType)
			if err != nil {
				return err
			}
			run := c.GetWorkflow(ctx, id, info.GetExecution().GetRunId())
			fmt.Fprintf(a.stderr, "Temporal UI: %s\n", workflows.UILink(a.cfg.Temporal.UIURL, a.cfg.Temporal.Namespace, id, run.GetRunID()))
			var (
				training   workflows.TrainingResult
				batch      activities.BatchPredictResult
				comparison activities.Comparison
				out        any = &training
				kind           = trainingKind
			)
			switch info.GetType().GetName() {
			case workflows.BatchWorkflowType:
				out, kind = &batch, batchKind
			case workflows.CompareWorkflowType:
				out, kind = &comparison, compareKind
			}
			if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				err = a.watch(ctx, c, run, kind, workflows.RunQueues(ctx, c, a.cfg.Temporal.Namespace, info), out)
			} else {
				err = runError(kind, id, a.waitResult(ctx, run, out))
			}
			switch {
			case err != nil:
				return a.ended(err, asJSON)
			case kind == batchKind:
				return a.printJSON(batch)
			case kind == compareKind:
				return a.printJSON(comparison)
			}
			return a.showResult(training, asJSON)
		}),
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "which run of the workflow ID (default the latest)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a training's result as JSON (a batch prediction's and a comparison's always are)")
	return cmd
}

// checkRunIDFlag refuses a --run-id that cannot name a run: Temporal's run
// IDs are UUIDs in their 36-character form, and it refuses others with a
// bare "Invalid RunId.".
func checkRunIDFlag(runID string) error {
	if runID == "" {
		return nil
	}
	if err := workflows.CheckRunID(runID); err != nil {
		return usagef("--run-id %q: %v (train prints it as run_id)", runID, err)
	}
	return nil
}

// describeWorkflow connects to Temporal and reads run runID of workflow id
// (the latest when runID is empty) for command verb, refusing one that is
// not of the types named by kinds.
func (a *app) describeWorkflow(ctx context.Context, verb, id, runID, kinds string, types ...string) (client.Client, *workflowpb.WorkflowExecutionInfo, error) {
	c, err := a.temporalClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	d, err := c.DescribeWorkflowExecution(ctx, id, runID)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, nil, fmt.Errorf("%s: no workflow %s", verb, id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", verb, id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	if typ := info.GetType().GetName(); !slices.Contains(types, typ) {
		return nil, nil, fmt.Errorf("%s: workflow %s is a %s, not %s", verb, id, typ, kinds)
	}
	return c, info, nil
}

// What a watched run is, in messages.
const (
	trainingKind = "training"
	batchKind    = "batch prediction"
	compareKind  = "comparison"
)

// watch shows the progress of run, a kind of run, until it ends and stores
// its result in out, warning while no worker polls one of queues, the
// run's.
func (a *app) watch(ctx context.Context, c client.Client, run client.WorkflowRun, kind string, queues []workflows.TaskQueue, out any) error {
	bar := newProgressBar(a.stderr, "starting") // then the stage under way
	// The watchers end before the bar does, so neither draws or logs
	// after the result.
	wctx, stopWatching := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		last := ""
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			qctx, cancel := context.WithTimeout(wctx, 2*time.Second)
			p, err := workflows.QueryProgress(qctx, c, run.GetID(), run.GetRunID(), nil)
			cancel()
			if err != nil {
				continue // not started yet, or no worker to answer: try again
			}
			if p.Stage == "failed" || p.Stage == "canceled" {
				continue // the result says so
			}
			label := p.Stage
			if p.WaitingForDataSlot {
				label += " (waiting for a data slot)"
			}
			bar.Relabel(label)
			bar.Percent(p.Percent)
			if !bar.on && label != last {
				a.log.WithFields(logrus.Fields{"stage": p.Stage, "percent": p.Percent, "waiting_for_data_slot": p.WaitingForDataSlot}).Info("progress")
				last = label
			}
		}
	})
	wg.Go(func() { a.watchWorkers(wctx, c, workerCheckInterval, run, queues...) })
	err := a.waitResult(ctx, run, out)
	stopWatching()
	wg.Wait()
	bar.Done()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("stopped watching %s; the %s goes on (see the Temporal UI)", run.GetID(), kind)
	}
	return runError(kind, run.GetID(), err)
}

// runEnded is how a watched run ended when it did not complete; with
// --json it is printed as such, so that a script can tell a failed run
// from a canceled one, or from a watch that stopped.
type runEnded struct {
	WorkflowID string `json:"workflow_id"`
	Status     string `json:"status"` // failed, canceled, terminated or timed_out
	ErrorType  string `json:"error_type,omitempty"`
	Reason     string `json:"error"`
	msg        string
	cause      error
}

func (e *runEnded) Error() string { return e.msg }
func (e *runEnded) Unwrap() error { return e.cause }

// runError says how the run id, a kind of run, ended when err, its
// result's error, is not nil: canceled, as the API says of it, or failed
// and why.
func runError(kind, id string, err error) error {
	if err == nil {
		return nil
	}
	e := &runEnded{WorkflowID: id, Status: "failed", Reason: err.Error(), cause: err}
	var (
		app        *temporal.ApplicationError
		terminated *temporal.TerminatedError
		timeout    *temporal.TimeoutError
	)
	switch {
	case temporal.IsCanceledError(err):
		// Temporal ends a run canceled when its error holds a
		// CanceledError.
		e.Status, e.Reason = "canceled", "canceled"
		e.msg = fmt.Sprintf("%s %s was canceled", kind, id)
	case errors.As(err, &app):
		e.ErrorType, e.Reason = app.Type(), app.Message()
		e.msg = fmt.Sprintf("%s %s failed (%s): %s", kind, id, app.Type(), app.Message())
	case errors.As(err, &terminated):
		e.Status, e.Reason = "terminated", "terminated"
		e.msg = fmt.Sprintf("%s %s was terminated (in the Temporal UI or CLI)", kind, id)
		if kind == trainingKind {
			e.msg += "; it ran no more code, so its registry run is marked failed by the worker later"
		}
	case errors.As(err, &timeout):
		e.Status, e.Reason = "timed_out", fmt.Sprintf("timed out (%s)", timeout.TimeoutType())
		e.msg = fmt.Sprintf("%s %s timed out (%s)", kind, id, timeout.TimeoutType())
	default:
		e.msg = fmt.Sprintf("%s %s failed: %v", kind, id, err)
	}
	return e
}

// ended prints how a run ended, with asJSON, when err says it did not
// complete, and returns err.
func (a *app) ended(err error, asJSON bool) error {
	var e *runEnded
	if asJSON && errors.As(err, &e) {
		if perr := a.printJSON(e); perr != nil {
			return errors.Join(err, perr)
		}
	}
	return err
}

// waitResult waits for the run's result and stores it in out. Losing
// contact with Temporal (a restart, a network blip) is not the run
// failing: it says so and waits on, until the run ends or ctx is done.
func (a *app) waitResult(ctx context.Context, run client.WorkflowRun, out any) error {
	backoff := time.Second
	for {
		err := run.Get(ctx, out)
		var ended *temporal.WorkflowExecutionError
		switch {
		case err == nil, errors.As(err, &ended):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case !lostContact(err):
			return err // the run is gone, or unreadable: waiting does not help
		}
		a.log.WithError(err).WithField("workflow_id", run.GetID()).Warn("lost contact with Temporal; the run goes on, still waiting for it")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// lostContact reports whether err says that Temporal could not be reached
// or did not answer in time, rather than that the request cannot succeed.
func lostContact(err error) bool {
	var (
		unavailable *serviceerror.Unavailable
		deadline    *serviceerror.DeadlineExceeded
		exhausted   *serviceerror.ResourceExhausted
		ne          net.Error
	)
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &exhausted) ||
		errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}
