package workflows

import (
	"testing"

	"go.temporal.io/sdk/worker"
)

// A history recorded from a real run on the Temporal dev server (the demo
// catalogue, `go tool task demo`) must replay without a non-determinism
// error: changing the order or kind of commands the workflow issues breaks
// runs already in flight.
func TestReplayRecordedTrainingHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(TrainingPipeline)
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/training_history.json"); err != nil {
		t.Fatal(err)
	}
}
