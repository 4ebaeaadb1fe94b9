package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/workflows"
)

// TestBrowserDemo drives the demo page in headless Chromium against the
// live API: it signs in, classifies a product, opens a version of the
// registry with its confusion matrix and saves a screenshot.
func TestBrowserDemo(t *testing.T) {
	live := startLive(t)
	feed := servingtest.RandomName("feed-")
	// A real object: a schedule on a feed whose object is gone is refused.
	obj, err := live.store.Put(t.Context(), artifact.Raw, []byte("title,category\nred shirt "+feed+",top\nblue jeans,bottom\n"), ".csv", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := live.reg.PublishFeed(t.Context(), feed, json.RawMessage(`{"csv_key":"`+obj.Key+`","text_cols":["title"],"label_col":"category"}`), "test", ""); err != nil {
		t.Fatal(err)
	}
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium): skipping the browser test")
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// A guard against a hung browser, not a performance bound.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	// The trainings table lists TrainingPipeline runs from Temporal. Start
	// one for this test's model on a queue no worker serves, so it stays
	// running whatever else the Temporal server has seen.
	tc, err := client.Dial(client.Options{HostPort: live.cfg.Temporal.Address, Namespace: live.cfg.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close) // after the cleanup below, which terminates the run
	run, err := workflows.StartTraining(t.Context(), tc, "browsertest-no-worker", "browsertest-"+live.cfg.ModelName,
		workflows.TrainingParams{ModelName: live.cfg.ModelName, Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tc.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "browser test done")
	})
	for listed := false; !listed; {
		var list struct {
			Trainings []struct {
				WorkflowID string `json:"workflow_id"`
			} `json:"trainings"`
		}
		live.call(t, "GET", "/v1/trainings", "", &list)
		for _, tr := range list.Trainings {
			listed = listed || tr.WorkflowID == run.GetID()
		}
		select {
		case <-ctx.Done():
			t.Fatal("the started training never showed in GET /v1/trainings")
		case <-time.After(50 * time.Millisecond):
		}
	}

	const title = "Piscine tubulaire ronde 3,66 m avec pompe de filtration et échelle"
	const body = "Piscine hors sol autoportante, liner PVC, pompe de filtration à cartouche."
	var want predictionJSON
	if code := live.call(t, "POST", "/v1/predict", `{"designation": "`+title+`", "description": "`+body+`", "top_k": 5}`, &want); code != 200 {
		t.Fatalf("predict through the API: %d", code)
	}

	// A wrong password shows the API's refusal on the page, with no
	// browser login prompt taking over, and is not kept.
	err = chromedp.Do(ctx,
		chromedp.Navigate(live.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-btn")),
		chromedp.SetValue(chromedp.CSS("#user"), "admin"),
		chromedp.SetValue(chromedp.CSS("#password"), "wrong"),
		chromedp.Click(chromedp.CSS("#login-btn")),
		chromedp.Poll[chromedp.Void](`document.querySelector("#error").textContent.includes("401")`),
	)
	if err != nil {
		t.Fatalf("a wrong password on the page: %v\nAPI log:\n%s", err, live.logs)
	}
	if kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.getItem("prodcat.auth") !== null`)); err != nil || kept {
		t.Errorf("refused credentials kept in the session: %v, %v", kept, err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#password"), "admin"),
		chromedp.Click(chromedp.CSS("#login-btn")),
		chromedp.Poll[chromedp.Void](`document.querySelector("#whoami").textContent.includes("signed in as admin")`),
		chromedp.SetValue(chromedp.CSS("#designation"), title),
		chromedp.SetValue(chromedp.CSS("#description"), body),
		chromedp.Click(chromedp.CSS("#predict-btn")),
		chromedp.WaitVisible(chromedp.CSS("#prediction .bar")),
	)
	if err != nil {
		t.Fatalf("predict on the page: %v\nAPI log:\n%s", err, live.logs)
	}
	answer, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#prediction .answer")))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#prediction .bar .code")].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page answer: %s", answer)
	if !strings.HasPrefix(answer, want.Code+" · "+want.Category) || !strings.Contains(answer, live.cfg.ModelName+" v1") {
		t.Errorf("page shows %q, the API answers %s %s from v1", answer, want.Code, want.Category)
	}
	if len(bars) != 5 || bars[0] != want.Code {
		t.Errorf("bars %v, want the 5 best starting with %s", bars, want.Code)
	}
	why, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#prediction .why")))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page explains: %s", why)
	if words := strings.Split(strings.TrimPrefix(why, "Words that weigh most: "), ", "); len(words) < 2 || words[0] == "" {
		t.Errorf("page explains %q, want the words that weigh most", why)
	}

	// The registry: the three versions with their aliases; then version 1
	// with its confusion matrix.
	err = chromedp.Do(ctx,
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#versions tbody tr").length === 3`),
		chromedp.Click(chromedp.CSS(`#versions tbody tr[data-version="1"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#confusion")),
		chromedp.ScrollIntoView(chromedp.CSS("#version-detail")),
	)
	if err != nil {
		t.Fatalf("registry view: %v", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#versions tbody tr")].map(r => r.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#confusion tbody td").length`))
	if err != nil {
		t.Fatal(err)
	}
	history, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#history tbody")))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !strings.Contains(rows[2], "production") || !strings.Contains(rows[1], "challenger") ||
		!strings.Contains(rows[0], "promote") || strings.Contains(rows[2], "promote") {
		t.Errorf("versions table %q: want v3, v2 challenger and v1 production, promote buttons but on production", rows)
	}
	if cells != 27*27 {
		t.Errorf("confusion matrix has %d cells, want 27×27", cells)
	}
	if !strings.Contains(history, "first model") {
		t.Errorf("alias history %q lacks the first promotion", history)
	}
	// The version's own moves say why it is production.
	moves, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#version-detail ul.moves")))
	if err != nil || !strings.Contains(moves, "production → v1") || !strings.Contains(moves, "first model") {
		t.Errorf("v1's alias moves %q, %v; want its promotion and why", moves, err)
	}
	trainings, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#trainings tbody tr").length`))
	if err != nil || trainings == 0 {
		t.Errorf("trainings table: %d rows, %v", trainings, err)
	}
	// The admin's training form is shown, filled with the production
	// model's data set (the button is not pressed: it would train for real).
	form, err := chromedp.Run(ctx, chromedp.Poll[[]string](`document.querySelector("#x-key").value &&
		[String(document.querySelector("#train-form").hidden), document.querySelector("#x-key").value, document.querySelector("#y-key").value]`))
	if err != nil || len(form) != 3 || form[0] != "false" || form[1] != "raw/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.csv" || form[2] != "raw/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.csv" {
		t.Errorf("training form (hidden, x key, y key) = %q, %v", form, err)
	}
	// The feeds are offered; choosing one sets the key fields aside.
	chosen, err := chromedp.Run(ctx, chromedp.Poll[[]string](`document.querySelector("#feed").options.length > 1 && (() => {
		const s = document.querySelector("#feed");
		s.value = "`+feed+`";
		s.dispatchEvent(new Event("change"));
		return [s.value, String(document.querySelector("#x-key").disabled), String(s.options.length)];
	})()`))
	if err != nil || len(chosen) != 3 || chosen[0] != feed || chosen[1] != "true" || chosen[2] != "2" {
		t.Errorf("feed choice (value, x key disabled, options) = %q, %v; want %s, true, 2", chosen, err, feed)
	}

	// Two alias moves sent at once, as a double click sends them: one is
	// made, and production ends where the first put it.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`Promise.all([promote(3), promote(2)]).then(() => null)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	moved, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#aliases .alias")].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if prod, err := live.reg.Alias(context.Background(), live.cfg.ModelName, "production"); err != nil || prod.Version != 3 {
		t.Errorf("after two promotions at once production is %+v, %v; want v3 (aliases shown: %q)", prod.Version, err, moved)
	}
	h, err := live.reg.AliasHistory(context.Background(), live.cfg.ModelName)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(h, func(m registry.AliasMove) bool { return m.Alias != "production" })); n != 2 {
		t.Errorf("production moved %d times in all after two promotions at once, want 2 (the first model, then v3)", n)
	}
	// The header follows the model the API serves once it has loaded v3.
	served, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const s = document.querySelector("#served").textContent; return s.endsWith(" v3") ? s : null; })()`,
		chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		t.Errorf("the header never said v3 is served: %q, %v", served, err)
	}

	// A paused schedule is listed; its resume button resumes it, and the
	// API notes who did.
	sched := servingtest.RandomName("browsertest-")
	var saved scheduleSaved
	if code := live.call(t, "PUT", "/v1/schedules/"+sched, `{"every": "24h", "paused": true, "training": {"source": {"feed": "`+feed+`"}}}`, &saved); code != 201 {
		t.Fatalf("PUT a schedule: %d %+v", code, saved)
	}
	t.Cleanup(func() {
		if tc, err := client.Dial(client.Options{HostPort: live.cfg.Temporal.Address, Namespace: live.cfg.Temporal.Namespace}); err == nil {
			_ = tc.ScheduleClient().GetHandle(context.Background(), sched).Delete(context.Background())
			tc.Close()
		}
	})
	// Schedules are listed from Temporal's visibility store, which lags.
	row := `document.querySelector('#schedules tbody tr[data-id="` + sched + `"]')`
	state, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const r = `+row+`; if (!r) { loadSchedules(); return null; } return r.textContent; })()`,
		chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil || !strings.Contains(state, "paused") || !strings.Contains(state, "every 24h") || !strings.Contains(state, "resume") {
		t.Fatalf("schedule row %q, %v: want it paused, every 24h, with a resume button", state, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](row+`.querySelector("button").click()`)); err != nil {
		t.Fatal(err)
	}
	// The row shows it resumed at once, from the schedule itself, not from
	// the list that lags behind it.
	state, err = chromedp.Run(ctx, chromedp.Poll[string](`(() => { const r = `+row+`; return r && r.textContent.includes("active") ? r.textContent : null; })()`,
		chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil || !strings.Contains(state, "pause") {
		t.Errorf("after the resume button the row says %q, %v: want it active, with a pause button", state, err)
	}
	var desc schedule.Summary
	for deadline := time.Now().Add(time.Minute); ; {
		live.call(t, "GET", "/v1/schedules/"+sched, "", &desc)
		if !desc.Paused || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if desc.Paused || desc.Note != "unpaused by admin through the API" {
		t.Errorf("after the resume button the schedule is %+v", desc)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// Kept after the test, for people to look at, in one place that each
	// run overwrites.
	dir := filepath.Join(os.TempDir(), "prodcat-browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "demo.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the demo page: %s (%d bytes)", path, len(shot))
}
