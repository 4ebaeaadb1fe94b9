package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/taxonomy"
)

// Validate reports whether s names its input in exactly one way. It runs
// inside the training workflow, so what it refuses must not change: a run
// replayed on newer code must take the path it took. Checks added since go
// in CheckColumns and CheckKeys, which run outside the workflow.
func (s Source) Validate() error {
	raw, generic := s.XKey != "" || s.YKey != "", s.CSVKey != ""
	switch {
	case s.Feed != "" && (raw || generic || len(s.TextCols) > 0 || s.LabelCol != ""):
		return errors.New("source: give either feed or object keys, not both (the feed names its own keys and columns)")
	case s.Feed != "":
		if err := registry.CheckFeedName(s.Feed); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	case raw && generic:
		return errors.New("source: give either x_key and y_key or csv_key, not both")
	case raw && (s.XKey == "" || s.YKey == ""):
		return errors.New("source: raw input needs both x_key and y_key")
	case raw && (len(s.TextCols) > 0 || s.LabelCol != ""):
		return errors.New("source: text_cols and label_col are for csv_key: the raw files' columns are fixed")
	case generic && (len(s.TextCols) == 0 || s.LabelCol == ""):
		return errors.New("source: csv input needs text_cols and label_col")
	case !raw && !generic:
		return errors.New("source: no input given (feed, x_key and y_key, or csv_key)")
	}
	return nil
}

// CheckColumns reports whether the columns of a generic CSV each play one
// part (see dataset.CheckColumns): a label column read as text would let
// the model read the answer.
func (s Source) CheckColumns() error {
	if s.CSVKey == "" {
		return nil
	}
	if err := dataset.CheckColumns(s.TextCols, s.LabelCol, ""); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	return nil
}

// CheckKeys reports whether every object key s names is uploaded data: a
// content address under raw/, as starter upload and POST /v1/uploads
// write. A model or a report read as a catalogue would fail late, with
// its bytes in the error.
func (s Source) CheckKeys() error {
	for _, in := range []struct{ field, key string }{{"x_key", s.XKey}, {"y_key", s.YKey}, {"csv_key", s.CSVKey}} {
		if in.key == "" {
			continue
		}
		if _, err := artifact.DigestOf(in.key); err != nil {
			return fmt.Errorf("source: %s: %w", in.field, err)
		}
		if !strings.HasPrefix(in.key, artifact.Raw+"/") {
			return fmt.Errorf("source: %s %q is not uploaded data (%s/...): upload the file first (starter upload or POST /v1/uploads)", in.field, in.key, artifact.Raw)
		}
	}
	return nil
}

// CheckHeaders reports whether the files s names have the columns a
// training reads, given head, which returns the first
// dataset.HeaderBytes of a file by its key (or path). A wrong file or
// column is then refused when it is named, not by every run that reads it.
// Errors about the files wrap dataset.ErrBadData.
func (s Source) CheckHeaders(head func(key string) ([]byte, error)) error {
	if s.XKey != "" && s.XKey == s.YKey {
		return fmt.Errorf("source: x_key and y_key are the same object %s: %w", s.XKey, dataset.ErrBadData)
	}
	var bad []error
	for _, c := range []struct {
		key   string
		check func([]byte) error
	}{
		{s.XKey, dataset.CheckXHeader},
		{s.YKey, dataset.CheckYHeader},
		{s.CSVKey, func(b []byte) error { return dataset.CheckCSVHeader(b, s.TextCols, s.LabelCol) }},
	} {
		if c.key == "" {
			continue
		}
		b, err := head(c.key)
		if errors.Is(err, artifact.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			bad = append(bad, err) // this object's fault: check the others too
			continue
		}
		if err != nil {
			// A store that cannot be read fails every object alike:
			// once is enough.
			return err
		}
		if err := c.check(b); err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", c.key, err))
		}
	}
	return errors.Join(bad...)
}

// ResolveFeedResult is the feed version a training reads.
type ResolveFeedResult struct {
	Feed    string `json:"feed"`
	Version int    `json:"version"`
	Source  Source `json:"source"`
}

// ResolveFeed returns the latest version of a data feed. The workflow
// resolves a feed once, in this activity, and hands the objects it names to
// Ingest: every attempt of Ingest then reads the same version, and the
// history shows which one. A feed that was never published, or whose
// version does not name objects, is bad data; a registry that is down is
// retried.
func (a *Activities) ResolveFeed(ctx context.Context, feed string) (ResolveFeedResult, error) {
	v, err := a.Registry.Feed(ctx, feed)
	if errors.Is(err, registry.ErrNotFound) {
		return ResolveFeedResult{}, badData("resolve feed: feed %s was never published (starter feed publish %s ...)", feed, feed)
	}
	if err != nil {
		return ResolveFeedResult{}, fmt.Errorf("resolve feed: %w", err)
	}
	var src Source
	if err := json.Unmarshal(v.Source, &src); err != nil {
		return ResolveFeedResult{}, badData("resolve feed: feed %s version %d: %v", feed, v.Version, err)
	}
	if src.Feed != "" {
		return ResolveFeedResult{}, badData("resolve feed: feed %s version %d names another feed, %s: a feed must name objects", feed, v.Version, src.Feed)
	}
	if err := src.Validate(); err != nil {
		return ResolveFeedResult{}, badData("resolve feed: feed %s version %d: %v", feed, v.Version, err)
	}
	a.logger(ctx).WithFields(map[string]any{"feed": feed, "feed_version": v.Version}).Info("feed resolved")
	return ResolveFeedResult{Feed: feed, Version: v.Version, Source: src}, nil
}

// objects returns the objects s names, in the order readLabelled takes
// them, with their names in messages: X and Y, or the CSV. A feed names
// none until it is resolved.
func (s Source) objects() (keys, names []string) {
	switch {
	case s.XKey != "" && s.YKey != "":
		return []string{s.XKey, s.YKey}, []string{"X", "Y"}
	case s.CSVKey != "":
		return []string{s.CSVKey}, []string{"CSV"}
	}
	return nil, nil
}

// getObjects reads the objects s names (see objects). readErr words the
// failure to read one, named "X", "Y" or "CSV", as the stage says it.
func (a *Activities) getObjects(ctx context.Context, s Source, readErr func(file string, err error) error) ([][]byte, error) {
	keys, names := s.objects()
	var data [][]byte
	for i, key := range keys {
		b, err := a.Store.Get(ctx, key)
		if err != nil {
			return nil, readErr(names[i], err)
		}
		data = append(data, b)
	}
	return data, nil
}

// readLabelled reads the labelled rows of the objects getObjects read. The
// challenge's files carry prdtypecodes: any other label is refused as
// unknown.
func (s Source) readLabelled(objects [][]byte, opts dataset.Options) (*dataset.Dataset, error) {
	if len(objects) == 1 {
		return dataset.ReadCSV(bytes.NewReader(objects[0]), s.TextCols, s.LabelCol, opts)
	}
	opts.KnownLabels = taxonomy.Codes()
	return dataset.ReadRaw(bytes.NewReader(objects[0]), bytes.NewReader(objects[1]), opts)
}

// Columns returns the text and label columns to read a labelled CSV with
// for a version whose signature is sig: cols and label where given, else
// the ones it was trained on; ok is false when some are still missing.
func (sig CSVSignature) Columns(cols []string, label string) (textCols []string, labelCol string, ok bool) {
	if len(cols) == 0 {
		cols = sig.TextCols
	}
	if label == "" {
		label = sig.LabelCol
	}
	return cols, label, len(cols) > 0 && label != ""
}
