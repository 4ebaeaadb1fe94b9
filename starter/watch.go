package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/workflows"
)

func newWatchCmd() *cobra.Command {
	var (
		runID  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "watch WORKFLOW_ID",
		Short: "follow a training started earlier: its progress while it runs, then its result",
		Long: `watch attaches to a TrainingPipeline run, such as one started without --wait, by a
schedule or through the API. It shows the progress of a running one until it ends and prints
the result as train --wait does; for one that has ended it prints the result at once. The
exit status is 1 when the run failed or was canceled. Interrupting watch leaves the run going.`,
		Example: `  starter watch train-prdtypecode-20261122T101500.000Z
  starter watch retrain-nightly-2026-11-22T03:00:00Z --json`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error { return checkRunIDFlag(runID) },
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			id := args[0]
			c, info, err := a.describeWorkflow(ctx, "watch", id, runID, "a training", workflows.TrainingWorkflowType)
			if err != nil {
				return err
			}
			run := c.GetWorkflow(ctx, id, info.GetExecution().GetRunId())
			fmt.Fprintf(a.stderr, "Temporal UI: %s\n", workflows.UILink(a.cfg.Temporal.UIURL, a.cfg.Temporal.Namespace, id, run.GetRunID()))
			var res workflows.TrainingResult
			if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				res, err = a.watch(ctx, c, run, workflows.RunQueues(ctx, c, a.cfg.Temporal.Namespace, info))
			} else {
				res, err = a.waitResult(ctx, run)
				err = trainingError(id, err)
			}
			if err != nil {
				return a.ended(err, asJSON)
			}
			return a.showResult(res, asJSON)
		}),
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "which run of the workflow ID (default the latest)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
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
