package workflows

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/prodcat/prodcat/activities"
)

// RegisterMain registers the workflows and the light activities on the
// worker of the main task queue.
func RegisterMain(w worker.Registry, a *activities.Activities) {
	w.RegisterWorkflow(TrainingPipeline)
	w.RegisterWorkflow(BatchPredict)
	reg := func(fn any, name string) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(a.ResolveFeed, "ResolveFeed")
	reg(a.Ingest, "Ingest")
	reg(a.Evaluate, "Evaluate")
	reg(a.Register, "Register")
	reg(a.FailRun, "FailRun")
	reg(a.BatchPredict, "BatchPredict")
}

// RegisterTraining registers the CPU-heavy activities on the worker of the
// training task queue.
func RegisterTraining(w worker.Registry, a *activities.Activities) {
	w.RegisterActivityWithOptions(a.Features, activity.RegisterOptions{Name: "Features"})
	w.RegisterActivityWithOptions(a.Train, activity.RegisterOptions{Name: "Train"})
}
