package workflows

import (
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/prodcat/prodcat/activities"
)

// HeartbeatSendInterval is the worker.Options.MaxHeartbeatThrottleInterval
// of the workers that run these activities. The SDK would otherwise hold
// heartbeat details back for 80% of the heartbeat timeout (16 to 24 s), and
// they are the progress users watch in the UI, the API and the starter.
const HeartbeatSendInterval = 2 * time.Second

// RegisterMain registers the workflows and the light activities on the
// worker of the main task queue.
func RegisterMain(w worker.Registry, a *activities.Activities) {
	w.RegisterWorkflow(TrainingPipeline)
	w.RegisterWorkflow(BatchPredict)
	w.RegisterWorkflow(CompareVersions)
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(a.ResolveFeed, "ResolveFeed")
	reg(a.Ingest, "Ingest")
	reg(a.Evaluate, "Evaluate")
	reg(a.Register, "Register")
	reg(a.FailRun, "FailRun")
	reg(a.BatchPredict, "BatchPredict")
	reg(a.CompareVersions, "CompareVersions")
}

// RegisterTraining registers the CPU-heavy activities on the worker of the
// training task queue.
func RegisterTraining(w worker.Registry, a *activities.Activities) {
	w.RegisterActivityWithOptions(a.Features, activity.RegisterOptions{Name: "Features"})
	w.RegisterActivityWithOptions(a.Train, activity.RegisterOptions{Name: "Train"})
}
