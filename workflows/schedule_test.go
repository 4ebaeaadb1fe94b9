package workflows

import (
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/prodcat/prodcat/activities"
)

func validSpec() ScheduleSpec {
	return ScheduleSpec{
		ID: "nightly", Cron: "0 3 * * *", TaskQueue: "prodcat", PauseOnFailure: true,
		Training: TrainingParams{ModelName: "prdtypecode", Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}},
	}
}

func TestScheduleSpecOptions(t *testing.T) {
	opts, err := validSpec().Options()
	if err != nil {
		t.Fatal(err)
	}
	if opts.ID != "nightly" || opts.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || !opts.PauseOnFailure {
		t.Errorf("options %+v: want id nightly, overlap skip, pause on failure", opts)
	}
	if len(opts.Spec.CronExpressions) != 1 || opts.Spec.CronExpressions[0] != "0 3 * * *" || len(opts.Spec.Intervals) != 0 {
		t.Errorf("spec %+v", opts.Spec)
	}
	s := validSpec()
	s.Cron, s.Every, s.Jitter, s.Overlap = "", 6*time.Hour, 5*time.Minute, "BUFFER_ONE"
	opts, err = s.Options()
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Spec.Intervals) != 1 || opts.Spec.Intervals[0].Every != 6*time.Hour || opts.Spec.Jitter != 5*time.Minute ||
		opts.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE {
		t.Errorf("interval options %+v", opts)
	}
}

// Jitter just under the shortest gap between cron runs is accepted.
func TestCronJitterUnderTheGap(t *testing.T) {
	for cron, jitter := range map[string]time.Duration{"0 3 * * *": 23 * time.Hour, "*/15 * * * *": 14 * time.Minute, "0 3 * * 1": 6 * 24 * time.Hour} {
		s := validSpec()
		s.Cron, s.Jitter = cron, jitter
		if _, err := s.Options(); err != nil {
			t.Errorf("cron %q, jitter %s: %v", cron, jitter, err)
		}
	}
}

func TestScheduleSpecRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*ScheduleSpec)
		want   string
	}{
		"no id":                     {func(s *ScheduleSpec) { s.ID = "" }, "id is empty"},
		"bad id":                    {func(s *ScheduleSpec) { s.ID = "a b" }, `schedule name "a b"`},
		"cron and every":            {func(s *ScheduleSpec) { s.Every = time.Hour }, "exactly one of cron and every"},
		"neither":                   {func(s *ScheduleSpec) { s.Cron = "" }, "exactly one of cron and every"},
		"short cron":                {func(s *ScheduleSpec) { s.Cron = "0 3 *" }, "want 5 fields"},
		"@every":                    {func(s *ScheduleSpec) { s.Cron = "@every 1s" }, "for an interval use every"},
		"tiny interval":             {func(s *ScheduleSpec) { s.Cron, s.Every = "", time.Second }, "at least 1m"},
		"31 February":               {func(s *ScheduleSpec) { s.Cron = "0 3 31 2 *" }, "never fires"},
		"bad overlap":               {func(s *ScheduleSpec) { s.Overlap = "sometimes" }, "overlap policy"},
		"terminate":                 {func(s *ScheduleSpec) { s.Overlap = "terminate_other" }, "use cancel_other"},
		"no queue":                  {func(s *ScheduleSpec) { s.TaskQueue = "" }, "task queue is empty"},
		"no input":                  {func(s *ScheduleSpec) { s.Training.Source = activities.Source{} }, "no input given"},
		"negative":                  {func(s *ScheduleSpec) { s.Jitter = -time.Second }, "negative jitter"},
		"jitter past the next slot": {func(s *ScheduleSpec) { s.Cron, s.Every, s.Jitter = "", 24*time.Hour, 48*time.Hour }, "less than the interval"},
		// A typo that would make a nightly run a daytime one.
		"jitter past the next cron run": {func(s *ScheduleSpec) { s.Jitter = 100 * time.Hour }, `shortest time between two runs of cron "0 3 * * *", 24h`},
		"jitter past a weekday cron":    {func(s *ScheduleSpec) { s.Cron, s.Jitter = "30 6 * * 1-5", 24*time.Hour }, "24h"},
		"jitter past a monthly cron":    {func(s *ScheduleSpec) { s.Cron, s.Jitter = "@monthly", 700*time.Hour }, "672h"},
		"leak": {func(s *ScheduleSpec) {
			s.Training.Source = activities.Source{CSVKey: "c", TextCols: []string{"t", "l"}, LabelCol: "l"}
		}, `column "l" is given as both text and label`},
	} {
		s := validSpec()
		tc.mutate(&s)
		_, err := s.Options()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestTrainingParamsValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		p    TrainingParams
		want string
	}{
		"no model": {TrainingParams{Source: activities.Source{CSVKey: "raw/c.csv", TextCols: []string{"t"}, LabelCol: "l"}}, "model_name is empty"},
		"both":     {TrainingParams{ModelName: "m", Source: activities.Source{XKey: "x", YKey: "y", CSVKey: "c"}}, "not both"},
		"csv cols": {TrainingParams{ModelName: "m", Source: activities.Source{CSVKey: "c"}}, "needs text_cols and label_col"},
		"holdout":  {TrainingParams{ModelName: "m", Source: activities.Source{XKey: "x", YKey: "y"}, HoldoutFraction: 1.5}, "holdout_fraction"},
		"gate":     {TrainingParams{ModelName: "m", Source: activities.Source{XKey: "x", YKey: "y"}, Gate: activities.Gate{Floor: 2}}, "floor in [0, 1]"},
		"rejects":  {TrainingParams{ModelName: "m", Source: activities.Source{XKey: "x", YKey: "y"}, MaxRejectFraction: -1}, "max_reject_fraction"},
		"only Y":   {TrainingParams{ModelName: "m", Source: activities.Source{YKey: "y"}}, "both x_key and y_key"},
		"generic":  {TrainingParams{ModelName: "m", Source: activities.Source{CSVKey: "c", TextCols: []string{"t"}, LabelCol: "l"}}, ""},
		// Validate runs in the workflow and must not refuse more than it
		// did: columns are checked outside it (Source.CheckColumns).
		"leak":      {TrainingParams{ModelName: "m", Source: activities.Source{CSVKey: "c", TextCols: []string{"t", "l"}, LabelCol: "l"}}, ""},
		"raw input": {TrainingParams{ModelName: "m", Source: activities.Source{XKey: "x", YKey: "y"}}, ""},
		"feed":      {TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue"}}, ""},
		"raw+cols":  {TrainingParams{ModelName: "m", Source: activities.Source{XKey: "x", YKey: "y", LabelCol: "l"}}, "for csv_key"},
		"feed+keys": {TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue", CSVKey: "c"}}, "either feed or object keys"},
		"feed+cols": {TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue", LabelCol: "l"}}, "either feed or object keys"},
		"feed name": {TrainingParams{ModelName: "m", Source: activities.Source{Feed: "new data"}}, `feed name "new data"`},
	} {
		err := tc.p.WithDefaults().Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

// Every policy name reads back as itself, so that a described schedule is a
// spec Put takes.
func TestOverlapNameRoundTrips(t *testing.T) {
	for _, name := range []string{"skip", "buffer_one", "buffer_all", "cancel_other", "allow_all"} {
		p, err := OverlapPolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := OverlapName(p); got != name {
			t.Errorf("OverlapName(OverlapPolicy(%q)) = %q", name, got)
		}
	}
	if got := OverlapName(enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED); got != "skip" {
		t.Errorf("unspecified: %q, want skip", got)
	}
	if got := OverlapName(enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER); got != "terminate_other" {
		t.Errorf("terminate_other: %q", got)
	}
}

// A cron is refused as never firing only when that is certain.
func TestCronNeverFires(t *testing.T) {
	for expr, want := range map[string]bool{
		"0 3 31 2 *":         true,
		"0 3 30,31 FEB *":    true,
		"0 3 31 4,6,9,11 *":  true,
		"0 3 31 APR-JUN/2 *": true,  // April and June
		"0 3 29 2 *":         false, // leap years
		"0 3 31 2,3 *":       false,
		"0 3 31 2 MON":       false, // never fires either, but weekdays are left to Temporal
		"0 3 */15 2 *":       false,
		"0 3 31 * *":         false,
		"0 3 L 2 *":          false, // not read here: Temporal's to judge
		"@daily":             false,
		"0 3 31 1-12/3 *":    false, // January
	} {
		if got := cronNeverFires(expr); got != want {
			t.Errorf("cronNeverFires(%q) = %v, want %v", expr, got, want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:               "24h",
		90 * time.Minute:             "1h30m",
		30 * time.Minute:             "30m",
		90 * time.Second:             "1m30s",
		2*time.Hour + 30*time.Second: "2h0m30s",
		10 * time.Second:             "10s",
		1500 * time.Millisecond:      "1.5s",
		0:                            "0s",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// Gaps as Temporal runs the expressions: a day must match both the day of
// the month and the day of the week.
func TestShortestCronGap(t *testing.T) {
	day := 24 * time.Hour
	for expr, want := range map[string]time.Duration{
		"0 3 * * *":      day,
		"*/15 * * * *":   15 * time.Minute,
		"@hourly":        time.Hour,
		"0 9-17 * * 1-5": time.Hour,
		"30 6 * * 1-5":   day,
		"0 3 * * 1":      7 * day,
		"@monthly":       28 * day,
		"0 3 1-7 * 1":    28 * day,   // the first Monday of the month
		"0 3 13 * FRI":   28 * day,   // Friday the 13th: February then March, at the closest
		"0 3 * * 0,7":    7 * day,    // 7 is Sunday too
		"0 0 29 2 *":     1461 * day, // leap day to leap day
	} {
		got, ok := shortestCronGap(expr)
		if !ok || got != want {
			t.Errorf("shortestCronGap(%q) = %v, %v; want %v", expr, got, ok, want)
		}
	}
	for _, expr := range []string{"0 3 L * *", "0 3 * *", "bogus", "0 0 31 2 *"} {
		if got, ok := shortestCronGap(expr); ok {
			t.Errorf("shortestCronGap(%q) = %v, want no answer", expr, got)
		}
	}
	// Jitter that Temporal's reading of the expression allows.
	s := validSpec()
	s.Cron, s.Jitter = "0 3 1-7 * 1", 48*time.Hour
	if _, err := s.Options(); err != nil {
		t.Errorf("first Monday with 48h of jitter: %v", err)
	}
}
