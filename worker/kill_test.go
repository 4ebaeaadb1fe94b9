package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/testenv"
	"github.com/prodcat/prodcat/workflows"
)

// A worker killed in the middle of Train is noticed through the missing
// heartbeats; a second worker takes the activity over and the run ends
// with a single model version.
func TestKilledWorkerDuringTrainIsReplaced(t *testing.T) {
	testenv.Integration(t)
	fashion := testenv.Split(t, "fashion", "train.csv")
	cfg, err := config.Load()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	bin := buildWorker(ctx, t)

	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	queue, training, modelName := "kill-"+suffix, "kill-training-"+suffix, "kill-"+suffix
	logs := filepath.Join(t.TempDir(), "worker.log")
	start := func() *exec.Cmd {
		out, err := os.OpenFile(logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "PRODCAT_TASK_QUEUE="+queue, "PRODCAT_TRAINING_QUEUE="+training)
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); out.Close() })
		return cmd
	}

	store, err := artifact.New(cfg.S3)
	require.NoError(t, err)
	require.NoError(t, store.EnsureBucket(ctx))
	data, err := os.ReadFile(fashion)
	require.NoError(t, err)
	ref, err := store.Put(ctx, artifact.Raw, data, ".csv", "text/csv")
	require.NoError(t, err)
	log, _ := logging.New(io.Discard, "", logging.JSON, "warn")
	c, err := client.Dial(client.Options{HostPort: cfg.Temporal.Address, Logger: logging.NewTemporal(log)})
	require.NoError(t, err)
	defer c.Close()

	first := start()
	// A tight tolerance keeps Train busy long enough to kill it midway.
	p := classifier.DefaultParams()
	p.Solver.Tol = 0.001
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kill-train-" + suffix, TaskQueue: queue}, workflows.TrainingPipeline,
		workflows.TrainingParams{ModelName: modelName, TrainingQueue: training, Params: &p,
			Source: activities.Source{CSVKey: ref.Key, TextCols: []string{"text"}, LabelCol: "label"}})
	require.NoError(t, err)

	trainRunning := func() (attempt int32, ok bool) {
		d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		if err != nil {
			return 0, false
		}
		for _, pa := range d.GetPendingActivities() {
			if pa.GetActivityType().GetName() == "Train" && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && pa.GetHeartbeatDetails() != nil {
				return pa.GetAttempt(), true
			}
		}
		return 0, false
	}
	require.Eventually(t, func() bool { _, ok := trainRunning(); return ok }, 5*time.Minute, 50*time.Millisecond, "Train starts and heartbeats")
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	killedAt := time.Now()

	start()
	var res workflows.TrainingResult
	require.NoError(t, run.Get(ctx, &res))
	t.Logf("workflow completed %.1fs after the kill", time.Since(killedAt).Seconds())

	// Train ran more than once: the second worker retried it.
	attempts := 0
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var trainScheduled int64
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "Train" {
			trainScheduled = e.GetEventId()
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil && a.GetScheduledEventId() == trainScheduled {
			attempts = int(a.GetAttempt())
		}
	}
	require.GreaterOrEqual(t, attempts, 2, "Train was retried after the kill")

	reg, err := registry.Open(ctx, cfg.DatabaseURL, log)
	require.NoError(t, err)
	defer reg.Close()
	versions, err := reg.Versions(ctx, modelName)
	require.NoError(t, err)
	require.Len(t, versions, 1)
	require.Equal(t, res.Version, versions[0].Version)
}

// buildWorker builds this command into a temporary directory.
func buildWorker(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	return bin
}
