package activities

import (
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/metrics"
)

// Error types of non-retryable application errors. Workflows list them in
// their retry policies and callers can match on them.
const (
	ErrBadData      = "BadData"      // the input cannot give a usable dataset
	ErrBadParams    = "BadParams"    // the training parameters are invalid
	ErrQualityGate  = "QualityGate"  // the model missed the absolute quality floor
	ErrNoModel      = "NoModel"      // there is no model to predict with
	ErrFeaturesGone = "FeaturesGone" // the feature files expired before Train read them
)

// Source names the input objects of a training, already in the bucket.
// Exactly one way is used: Feed (a data feed in the registry, which a
// training resolves to its latest version when it starts, see ResolveFeed),
// XKey and YKey (the challenge's raw files), or CSVKey (a generic CSV with
// TextCols and LabelCol).
type Source struct {
	Feed     string   `json:"feed,omitempty"`
	XKey     string   `json:"x_key,omitempty"`
	YKey     string   `json:"y_key,omitempty"`
	CSVKey   string   `json:"csv_key,omitempty"`
	TextCols []string `json:"text_cols,omitempty"`
	LabelCol string   `json:"label_col,omitempty"`
}

// IngestInput is the input of Ingest.
type IngestInput struct {
	ModelName string `json:"model_name"`
	// Source names objects; a feed is resolved first (ResolveFeed), and
	// Feed and FeedVersion say which version named them.
	Source      Source `json:"source"`
	Feed        string `json:"feed,omitempty"`
	FeedVersion int    `json:"feed_version,omitempty"`
	// HoldoutFraction of each class is kept out of training for evaluation.
	HoldoutFraction float64 `json:"holdout_fraction"`
	// MaxRejectFraction fails the ingest when more rows than this are rejected.
	MaxRejectFraction float64           `json:"max_reject_fraction"`
	Params            classifier.Params `json:"params"`
}

// IngestResult describes the dataset snapshot Ingest wrote.
type IngestResult struct {
	DatasetDigest string `json:"dataset_digest"`
	TrainKey      string `json:"train_key"`
	HoldoutKey    string `json:"holdout_key"`
	RejectsKey    string `json:"rejects_key,omitempty"`
	Rows          int    `json:"rows"`
	TrainRows     int    `json:"train_rows"`
	HoldoutRows   int    `json:"holdout_rows"`
	Classes       int    `json:"classes"`
	Rejected      int    `json:"rejected"`
	RunID         int64  `json:"run_id"` // the registry's run
	// Source is the input that was read, named by version FeedVersion of
	// Feed when the training was given a feed.
	Source      Source `json:"source"`
	Feed        string `json:"feed,omitempty"`
	FeedVersion int    `json:"feed_version,omitempty"`
}

// FeaturesInput is the input of Features.
type FeaturesInput struct {
	TrainKey string            `json:"train_key"`
	Params   classifier.Params `json:"params"`
}

// FeaturesResult names the fitted vectorizer and the training matrix.
type FeaturesResult struct {
	VectorizerKey string `json:"vectorizer_key"`
	MatrixKey     string `json:"matrix_key"`
	Features      int    `json:"features"`
	Rows          int    `json:"rows"`
}

// TrainInput is the input of Train.
type TrainInput struct {
	TrainKey string            `json:"train_key"`
	Features FeaturesResult    `json:"features"`
	Params   classifier.Params `json:"params"`
	// DatasetDigest is recorded in the model file's metadata.
	DatasetDigest string `json:"dataset_digest"`
	// Rakuten says whether the data came as the challenge's files, whose
	// labels are prdtypecodes: the model file names them from the
	// taxonomy. Nil, in the input of a run scheduled by an earlier version,
	// names them as that version did, whenever a label is a known code.
	Rakuten *bool `json:"rakuten,omitempty"`
}

// TrainResult names the trained model file.
type TrainResult struct {
	Model   artifact.Ref `json:"model"`
	Seconds float64      `json:"seconds"`
}

// EvaluateInput is the input of Evaluate.
type EvaluateInput struct {
	RunID      int64  `json:"run_id"`
	ModelKey   string `json:"model_key"`
	HoldoutKey string `json:"holdout_key"`
}

// EvaluateResult is the holdout evaluation summary; the full report with
// per-class figures and the confusion matrix is in ReportKey.
type EvaluateResult struct {
	ReportKey  string  `json:"report_key"`
	WeightedF1 float64 `json:"weighted_f1"`
	MacroF1    float64 `json:"macro_f1"`
	Accuracy   float64 `json:"accuracy"`
	// LogLoss and ECE score the probabilities (see metrics.Calibration).
	LogLoss float64 `json:"log_loss"`
	ECE     float64 `json:"ece"`
}

// metrics returns the headline figures under the names the registry keeps.
func (r EvaluateResult) metrics() map[string]float64 {
	return map[string]float64{"weighted_f1": r.WeightedF1, "macro_f1": r.MacroF1, "accuracy": r.Accuracy, "log_loss": r.LogLoss, "ece": r.ECE}
}

// Gate is the promotion rule.
type Gate struct {
	// Margin the candidate's weighted F1 must beat production's by.
	Margin float64 `json:"margin"`
	// Floor is the weighted F1 every registered model must reach.
	Floor float64 `json:"floor"`
}

// RegisterInput is the input of Register.
type RegisterInput struct {
	ModelName     string            `json:"model_name"`
	RunID         int64             `json:"run_id"`
	DatasetDigest string            `json:"dataset_digest"`
	HoldoutKey    string            `json:"holdout_key"`
	Params        classifier.Params `json:"params"`
	Model         artifact.Ref      `json:"model"`
	Evaluation    EvaluateResult    `json:"evaluation"`
	Gate          Gate              `json:"gate"`
	// Source is what the model was trained on; a generic CSV's columns go
	// into the version's signature. Nil (a run scheduled by an earlier
	// version) records the challenge's signature, as that version did.
	Source *Source `json:"source,omitempty"`
}

// RegisterResult says which version was created and where its aliases went.
type RegisterResult struct {
	Version  int    `json:"version"`
	Promoted bool   `json:"promoted"`
	Alias    string `json:"alias"`  // production, challenger, or "" for a model identical to an earlier version
	Reason   string `json:"reason"` // why the gate decided so
	// BaselineVersion and BaselineF1 describe the production model the
	// candidate was compared with on the same holdout (0 when none).
	BaselineVersion int     `json:"baseline_version,omitempty"`
	BaselineF1      float64 `json:"baseline_f1,omitempty"`
	// CandidateF1 is the candidate's weighted F1 on the rows compared, and
	// ComparedRows their number: the holdout rows production was not
	// trained on.
	CandidateF1  float64 `json:"candidate_f1,omitempty"`
	ComparedRows int     `json:"compared_rows,omitempty"`
}

// FailRunInput records a failed pipeline run.
type FailRunInput struct {
	RunID int64  `json:"run_id"`
	Error string `json:"error"`
	// Canceled records the run as canceled rather than failed: someone
	// asked it to stop.
	Canceled bool `json:"canceled,omitempty"`
}

// BatchPredictInput names an unlabelled file to predict: a challenge X
// file (XKey) or a generic CSV (CSVKey) with its text columns, the first
// the title.
type BatchPredictInput struct {
	ModelName string `json:"model_name"`
	// Alias of the model to use; production when empty.
	Alias    string   `json:"alias,omitempty"`
	XKey     string   `json:"x_key,omitempty"`
	CSVKey   string   `json:"csv_key,omitempty"`
	TextCols []string `json:"text_cols,omitempty"`
}

// BatchPredictResult names the predictions.csv written.
type BatchPredictResult struct {
	PredictionsKey string `json:"predictions_key"`
	Rows           int    `json:"rows"`
	Rejected       int    `json:"rejected"`
	ModelVersion   int    `json:"model_version"`
}

// Report is the evaluation artifact stored under ReportKey.
type Report struct {
	ModelKey   string         `json:"model_key"`
	HoldoutKey string         `json:"holdout_key"`
	Rows       int            `json:"rows"`
	Metrics    metrics.Report `json:"metrics"`
}
