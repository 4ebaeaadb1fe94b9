package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/internal/testenv"
)

// A run whose task queue nobody polls gets a warning instead of a silent
// wait, and a note when a worker turns up.
func TestWatchWorkersWarnsWithoutWorker(t *testing.T) {
	c, cfg := testenv.Temporal(t)
	log, hook := test.NewNullLogger()
	a := &app{cfg: cfg, log: log, stdout: io.Discard, stderr: io.Discard}
	queue := fmt.Sprintf("no-worker-%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.watchWorkers(ctx, c, 50*time.Millisecond, taskQueue{queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW})
	}()
	defer func() { cancel(); <-done }()

	waitForLog(t, hook, logrus.WarnLevel, "no worker is polling")
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "noop"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	waitForLog(t, hook, logrus.InfoLevel, "a worker now polls")
	warnings := 0
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings, want 1 (once per queue)", warnings)
	}
}

// waitForLog waits, a minute at most, for a log entry at level containing msg.
func waitForLog(t *testing.T, hook *test.Hook, level logrus.Level, msg string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, e := range hook.AllEntries() {
			if e.Level == level && strings.Contains(e.Message, msg) {
				return
			}
		}
	}
	t.Fatalf("no %s log with %q", level, msg)
}
