package workflows

import (
	"testing"

	"go.temporal.io/sdk/worker"
)

// Histories recorded from real runs on the Temporal dev server, by older
// code, must replay without a non-determinism error: changing the order or
// kind of commands the workflow issues breaks runs already in flight. A
// change must be gated by workflow.GetVersion.
//   - training_history.json: the demo catalogue, trained and promoted
//     (before the parameters were recorded and before failures were
//     recorded at ingest);
//   - the others: stand-in activities on code from before failures were
//     recorded at ingest and before cancelled stages were waited for (a
//     bad-data Ingest, a cancel during Features, a failed quality gate).
func TestReplayRecordedTrainingHistories(t *testing.T) {
	for _, file := range []string{
		"training_history.json",
		"ingest_bad_data_history.json",
		"cancel_during_features_history.json",
		"quality_gate_history.json",
	} {
		t.Run(file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(TrainingPipeline)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/"+file); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BatchPredict histories recorded by the code from before it shared
// oneStage with CompareVersions (a prediction that completed, and one that
// failed for want of a model) must replay on the code of today.
func TestReplayRecordedBatchHistories(t *testing.T) {
	for _, file := range []string{"batch_predict_history.json", "batch_predict_no_model_history.json"} {
		t.Run(file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(BatchPredict)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/"+file); err != nil {
				t.Fatal(err)
			}
		})
	}
}
