package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/spf13/cobra"
)

func newUploadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "upload FILE...",
		Short: "put local files in the bucket under their content address and print the keys",
		Args:  cobra.MinimumNArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			// All checked first, so a bad file uploads none.
			for _, path := range args {
				if err := checkUpload(path); err != nil {
					return err
				}
			}
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

// checkUpload refuses a file POST /v1/uploads refuses: an empty one, or
// one that is not text (a NUL byte in its first 8 KiB). Stored, either
// would only fail the runs that read it.
func checkUpload(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	head := make([]byte, dataset.TextSniffBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("upload: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("upload %s: the file is empty; give the CSV file", path)
	}
	if i := bytes.IndexByte(head[:n], 0); i >= 0 {
		return fmt.Errorf("upload %s: not text (a NUL byte at offset %d); give the CSV file", path, i)
	}
	return nil
}
