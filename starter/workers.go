package main

import (
	"context"
	"slices"
	"time"

	"github.com/prodcat/prodcat/workflows"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// workerCheckInterval is how often watchWorkers looks for pollers.
const workerCheckInterval = 5 * time.Second

// watchWorkers warns, once per queue, when no worker polls a task queue the
// run needs: the run would otherwise wait without a word. It says so again
// when a worker turns up, and returns when ctx ends.
func (a *app) watchWorkers(ctx context.Context, c client.Client, every time.Duration, run client.WorkflowRun, queues ...workflows.TaskQueue) {
	warned := make(map[string]bool)
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
			}
		}
		unpolled := workflows.Unpolled(ctx, c, waiting)
		for _, q := range waiting {
			log := a.log.WithField("task_queue", q.Name)
			switch polled := !slices.Contains(unpolled, q.Name); {
			case !polled && !warned[q.Name]:
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
