package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
)

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
	err := workflow.ExecuteActivity(ctx, a.BatchPredict, in).Get(ctx, &out)
	return out, err
}
