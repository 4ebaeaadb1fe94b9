package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newUploadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "upload FILE...",
		Short: "put local files in the bucket under their content address and print the keys",
		Args:  cobra.MinimumNArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			for _, path := range args {
				ref, err := a.uploadFile(ctx, path)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s\t%s\n", ref.Key, path)
			}
			return nil
		}),
	}
}
