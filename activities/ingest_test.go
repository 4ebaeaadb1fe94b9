package activities

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/linear"
)

func badParamsExample() classifier.Params {
	p := classifier.DefaultParams()
	p.Solver.Multiclass, p.Solver.Balanced = linear.CrammerSinger, true
	return p
}

// newActivityEnv returns a test environment running a's activities, with
// its logs discarded.
func newActivityEnv(a *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	log := logrus.New()
	log.SetOutput(io.Discard)
	a.Log = log
	env.RegisterActivity(a)
	return env
}

// Ingest refuses inputs it cannot record truthfully before it reads or
// writes anything: the Activities here have no store or registry at all.
func TestIngestRefusesUnresolvedOrHalfNamedFeed(t *testing.T) {
	a := &Activities{}
	env := newActivityEnv(a)
	for _, in := range []IngestInput{
		{ModelName: "m", Source: Source{Feed: "catalogue"}},
		{ModelName: "m", Source: Source{CSVKey: "raw/a.csv"}, Feed: "catalogue"},
		{ModelName: "m", Source: Source{CSVKey: "raw/a.csv"}, FeedVersion: 2},
		{ModelName: "m", Source: Source{CSVKey: "raw/a.csv"}, Feed: "catalogue", FeedVersion: -1},
	} {
		_, err := env.ExecuteActivity(a.Ingest, in)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != ErrBadParams || !app.NonRetryable() {
			t.Errorf("Ingest(source %+v, feed %q version %d): err = %v, want non-retryable %s", in.Source, in.Feed, in.FeedVersion, err, ErrBadParams)
		}
	}
}

// The pipeline leaves the classifier's parameters to Ingest, which refuses
// bad ones before it reads anything.
func TestIngestRefusesBadClassifierParams(t *testing.T) {
	a := &Activities{}
	env := newActivityEnv(a)
	key := "raw/" + strings.Repeat("a", 64) + ".csv"
	_, err := env.ExecuteActivity(a.Ingest, IngestInput{ModelName: "m", Source: Source{CSVKey: key, TextCols: []string{"text"}, LabelCol: "label"}, Params: badParamsExample()})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrBadParams || !strings.Contains(app.Error(), "invalid training parameters: ") || !strings.Contains(app.Error(), "crammer-singer") {
		t.Errorf("err = %v, want BadParams naming the parameters", err)
	}
}
