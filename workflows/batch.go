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
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         stageRetry(heavyStageAttempts),
	})
	var a *activities.Activities
	var out activities.BatchPredictResult
	if err := workflow.ExecuteActivity(ctx, a.BatchPredict, in).Get(ctx, &out); err != nil {
		if ctx.Err() != nil || temporal.IsCanceledError(err) {
			return out, err
		}
		reason := failureReason(err)
		workflow.SetCurrentDetails(ctx, "failed: "+reason)
		return out, stageFailure("predict", reason, err)
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
