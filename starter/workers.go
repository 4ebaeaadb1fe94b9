package main

import (
	"context"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/workflows"
)

// workerCheckInterval is how often watchWorkers looks for pollers.
const workerCheckInterval = 5 * time.Second

// watchWorkers warns, once per queue, when no worker polls a task queue the
// run needs: the run would otherwise wait without a word. It says so again
// when a worker turns up, tells each retry of a stage (reportRetries), and
// returns when ctx ends.
func (a *app) watchWorkers(ctx context.Context, c client.Client, every time.Duration, run client.WorkflowRun, queues ...workflows.TaskQueue) {
	warned := make(map[string]bool)
	// Workers reconnecting after a Temporal restart miss a check: a queue
	// is said to have none after two checks in a row find none.
	missed := make(map[string]int)
	retried := make(map[string]int) // the attempt of each stage said last
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Temporal itself being unwell leaves a queue out: run.Get reports
		// that.
		waiting := queues
		if run != nil {
			if d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err == nil {
				waiting = workflows.Waiting(d, queues)
				a.reportRetries(d, retried)
			}
		}
		unpolled := workflows.Unpolled(ctx, c, waiting)
		for name := range missed {
			// A queue the run no longer waits on starts afresh.
			if !slices.ContainsFunc(waiting, func(q workflows.TaskQueue) bool { return q.Name == name }) {
				delete(missed, name)
			}
		}
		for _, q := range waiting {
			log := a.log.WithField("task_queue", q.Name)
			polled := !slices.Contains(unpolled, q.Name)
			if polled {
				missed[q.Name] = 0
			} else {
				missed[q.Name]++
			}
			switch {
			case missed[q.Name] >= 2 && !warned[q.Name]:
				log.Warn("no worker is polling this task queue, so the run waits; start one with `go tool task worker` (or `go run ./worker`)")
				warned[q.Name] = true
			case polled && warned[q.Name]:
				log.Info("a worker now polls this task queue")
				warned[q.Name] = false
			}
		}
	}
}

// runQueues are the task queues a training or batch prediction needs:
// workflow and light activities on the main queue, heavy stages on the
// training queue.
func (a *app) runQueues() []workflows.TaskQueue {
	qs := []workflows.TaskQueue{{Name: a.cfg.Temporal.TaskQueue, Kind: enumspb.TASK_QUEUE_TYPE_WORKFLOW}}
	if tq := a.cfg.Temporal.TrainingQueue; tq != "" && tq != a.cfg.Temporal.TaskQueue {
		qs = append(qs, workflows.TaskQueue{Name: tq, Kind: enumspb.TASK_QUEUE_TYPE_ACTIVITY})
	}
	return qs
}

// reportRetries says once per attempt which stages of the run described
// by d failed and are tried again, and why; retried holds the attempt of
// each stage said last.
func (a *app) reportRetries(d *workflowservice.DescribeWorkflowExecutionResponse, retried map[string]int) {
	for _, r := range workflows.Retrying(d) {
		if retried[r.Activity] == r.Attempt {
			continue
		}
		retried[r.Activity] = r.Attempt
		log := a.log.WithFields(logrus.Fields{"stage": r.Activity, "attempt": r.Attempt, "last_error": r.LastError})
		if !r.NextTry.IsZero() {
			log = log.WithField("next_try", r.NextTry.Local().Format(time.TimeOnly))
		}
		log.Warn("a stage failed and is tried again")
	}
}
