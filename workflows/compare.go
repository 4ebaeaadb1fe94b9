package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
)

// CompareVersions scores registered versions of a model on a labelled test
// set in the bucket, on the same rows, and compares every two row by row
// (McNemar's test). The Temporal UI shows the figures as the run's
// details.
func CompareVersions(ctx workflow.Context, in activities.CompareInput) (activities.Comparison, error) {
	var a *activities.Activities
	var out activities.Comparison
	if err := oneStage(ctx, activities.CompareStage, "The stage: compare while the versions are scored; done, failed or canceled at the end. "+
		"The percentage is 0 until the end: starter watch refines it with the stage's heartbeat (versions scored of the total).",
		a.CompareVersions, in, &out); err != nil {
		return out, err
	}
	workflow.SetCurrentDetails(ctx, comparisonDetails(out))
	return out, nil
}

// comparisonDetails words a comparison for the Temporal UI, in markdown.
func comparisonDetails(c activities.Comparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %d rows (%d rejected):\n\n| version | weighted F1 | macro F1 | accuracy |\n|---|---|---|---|\n", c.Model, c.Rows, c.Rejected)
	for _, v := range c.Versions {
		fmt.Fprintf(&b, "| v%d | %.4f | %.4f | %.4f |\n", v.Version, v.WeightedF1, v.MacroF1, v.Accuracy)
	}
	for _, p := range c.Pairs {
		fmt.Fprintf(&b, "\nv%d against v%d: rows only v%d gets right %d, only v%d %d; McNemar p = %.3g", p.A, p.B, p.A, p.OnlyARight, p.B, p.OnlyBRight, p.McNemarP)
	}
	return b.String()
}
