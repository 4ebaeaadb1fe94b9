// Command starter is prodcat's command line: it trains models through
// Temporal, manages schedules and the model registry, uploads data, runs
// batch predictions, and trains offline on local files with no services.
package main

import (
	"context"
	"errors"
	"fmt"
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
	os.Exit(exitCode(err))
}

// exitCode is the exit status for what a command returned: 2 for a usage,
// settings or refused error, 1 for any other failure.
func exitCode(err error) int {
	var (
		usage    usageError
		settings settingsError
		refused  refusedError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage), errors.As(err, &settings), errors.As(err, &refused):
		return 2
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "starter",
		Short:         "prodcat command line: train, schedule, predict and manage models",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newOfflineCmd(), newUploadCmd(), newFeedCmd(), newTrainCmd(), newWatchCmd(), newCancelCmd(), newScheduleCmd(), newModelsCmd(), newPredictBatchCmd(), newDemoDataCmd())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	markUsageErrors(root)
	return root
}

// usageError is a mistake in the command line itself (an unknown flag or
// command, a wrong number of arguments): the starter exits with status 2
// for it, as the Go tools do, and 1 for a command that failed.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() + "; see --help" }
func (e usageError) Unwrap() error { return e.err }

// settingsError is a setting the environment gets wrong (PRODCAT_*): exit
// status 2, as for the API and the worker, but no pointer to --help.
type settingsError struct{ err error }

func (e settingsError) Error() string { return e.err.Error() }
func (e settingsError) Unwrap() error { return e.err }

// refusedError is a well-formed request that cannot be done as asked, as
// only the service can tell (a backfill window with no run due): exit
// status 2, as the API answers 400, but no pointer to --help, which would
// not help.
type refusedError struct{ err error }

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// usagef returns a usageError for flags that are wrong together or in
// value, found by a command's own checks.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// asUsage returns err as a usageError, or nil.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// markUsageErrors makes the argument and required-flag checks of c and its
// subcommands return usageErrors. A command that only groups others shows its help, and
// refuses an unknown subcommand instead of showing help for it.
func markUsageErrors(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	} else if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			// Cobra checks required flags after the arguments, as a plain
			// error; checked here first, a missing one is a usage error too.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}
