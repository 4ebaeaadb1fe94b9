package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
)

// batchVersionAttrChange is the change ID of setting the ModelVersion
// search attribute on a batch prediction once it knows the version it used.
const batchVersionAttrChange = "batch-version-attr"

// BatchPredict runs a registered model (production unless in.Alias says
// otherwise) over an unlabelled X file or generic CSV in the bucket and writes
// predictions.csv next to the other artifacts.
func BatchPredict(ctx workflow.Context, in activities.BatchPredictInput) (activities.BatchPredictResult, error) {
	var a *activities.Activities
	var out activities.BatchPredictResult
	if err := oneStage(ctx, activities.PredictStage, "The stage: predict while the rows are predicted; done, failed or canceled at the end. "+
		"The percentage is 0 until the end: starter watch refines it with the prediction's heartbeat (rows done of the total).",
		a.BatchPredict, in, &out); err != nil {
		return out, err
	}
	alias := in.Alias
	if alias == "" {
		alias = "production"
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s v%d (%s): %d rows predicted, %d rejected; %s",
		in.ModelName, out.ModelVersion, alias, out.Rows, out.Rejected, out.PredictionsKey))
	if workflow.GetVersion(ctx, batchVersionAttrChange, workflow.DefaultVersion, 1) == 1 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, attrModelVersion.ValueSet(int64(out.ModelVersion))); err != nil {
			workflow.GetLogger(ctx).Warn("search attributes not updated", "Error", err)
		}
	}
	return out, nil
}

// oneStage runs the one activity, fn(in), of a workflow that has one
// stage, into out. Until fn ends, the progress query answers the stage
// (description says what it answers), then done, failed or canceled. A
// failure is worded as the pipeline words a stage's.
func oneStage(ctx workflow.Context, stage, description string, fn, in, out any) error {
	// Queries leave no trace in the history, so runs recorded before the
	// handler existed replay as they were.
	progress := Progress{Stage: stage, Done: []string{}}
	if err := workflow.SetQueryHandlerWithOptions(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }, workflow.QueryHandlerOptions{
		Description: description,
	}); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         stageRetry(heavyStageAttempts),
	})
	if err := workflow.ExecuteActivity(ctx, fn, in).Get(ctx, out); err != nil {
		if ctx.Err() != nil || temporal.IsCanceledError(err) {
			progress.Stage = "canceled"
			return err
		}
		progress.Stage = "failed"
		reason := failureReason(err)
		workflow.SetCurrentDetails(ctx, "failed: "+reason)
		return stageFailure(stage, reason, err)
	}
	progress = Progress{Stage: "done", Percent: 100, Done: []string{stage}}
	return nil
}
