package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newOfflineCmd is being written in the ML-core issue.
func newOfflineCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "offline",
		Short: "train and evaluate on local files (not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("offline: not yet available") },
	}
}
