// Command starter is prodcat's command line: it trains models through
// Temporal, manages schedules and the model registry, uploads data, runs
// batch predictions, and trains offline on local files with no services.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels the command; a second one kills.
	context.AfterFunc(ctx, stop)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "starter",
		Short:         "prodcat command line: train, schedule, predict and manage models",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newOfflineCmd(), newUploadCmd(), newFeedCmd(), newTrainCmd(), newScheduleCmd(), newModelsCmd(), newPredictBatchCmd(), newDemoDataCmd())
	return root
}
