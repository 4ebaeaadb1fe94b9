package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/internal/demodata"
)

func newDemoDataCmd() *cobra.Command {
	var out string
	var rows int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo-data",
		Short: "write the synthetic demo catalogue (X_demo.csv, Y_demo.csv) in the challenge's raw format",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Generated in memory first: bad flags must not truncate the
			// files of an earlier run.
			var x, y bytes.Buffer
			if err := demodata.Write(&x, &y, rows, seed); err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			xp, yp := filepath.Join(out, "X_demo.csv"), filepath.Join(out, "Y_demo.csv")
			if err := writeFile(xp, x.Bytes()); err != nil {
				return err
			}
			if err := writeFile(yp, y.Bytes()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", xp, yp)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", ".data/demo", "directory to write the files to")
	cmd.Flags().IntVar(&rows, "rows", 40, "listings per product type")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	return cmd
}
