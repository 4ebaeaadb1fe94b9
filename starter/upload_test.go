package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/dataset"
)

// upload refuses what POST /v1/uploads refuses, before uploading anything
// (no services are up in this test), as a failed command: the files are
// wrong, not the command line.
func TestUploadRefusesEmptyAndBinaryFiles(t *testing.T) {
	t.Setenv("S3_ENDPOINT", "127.0.0.1:1")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.csv", []byte("title,label\nchaise,meuble\n"))
	empty := write("empty.csv", nil)
	binary := write("ls.csv", append([]byte("\x7fELF"), make([]byte, 100)...))
	late := write("late.csv", append([]byte(strings.Repeat("a", dataset.TextSniffBytes)), 0))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{good, empty}, "upload " + empty + ": the file is empty"},
		{[]string{good, binary}, "upload " + binary + ": not text (a NUL byte at offset 4)"},
		{[]string{dir}, "is a directory"},
	} {
		_, err := run(t, append([]string{"upload"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, new(usageError)) {
			t.Errorf("upload %v: err = %v, want a failure saying %q", tc.args, err, tc.want)
		}
	}
	// Past the first 8 KiB, as for the API, a NUL is the training's to find.
	if err := checkUpload(late); err != nil {
		t.Errorf("a NUL byte past 8 KiB: %v", err)
	}
}
