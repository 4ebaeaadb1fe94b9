package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prodcat/prodcat/internal/registry"
)

// Validate reports whether s names its input in exactly one way.
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
	case generic && (len(s.TextCols) == 0 || s.LabelCol == ""):
		return errors.New("source: csv input needs text_cols and label_col")
	case !raw && !generic:
		return errors.New("source: no input given (feed, x_key and y_key, or csv_key)")
	}
	return nil
}

// resolveSource returns the input objects s names: s itself, or the latest
// version of its feed with that version's number. A feed that was never
// published, or whose version does not name objects, is bad data: retrying
// will not change it.
func (a *Activities) resolveSource(ctx context.Context, s Source) (Source, int, error) {
	if s.Feed == "" {
		return s, 0, nil
	}
	v, err := a.Registry.Feed(ctx, s.Feed)
	if errors.Is(err, registry.ErrNotFound) {
		return Source{}, 0, badData("ingest: feed %s was never published (starter feed publish %s ...)", s.Feed, s.Feed)
	}
	if err != nil {
		return Source{}, 0, fmt.Errorf("ingest: %w", err)
	}
	var r Source
	if err := json.Unmarshal(v.Source, &r); err != nil {
		return Source{}, 0, badData("ingest: feed %s version %d: %v", s.Feed, v.Version, err)
	}
	if r.Feed != "" {
		return Source{}, 0, badData("ingest: feed %s version %d names another feed, %s: a feed must name objects", s.Feed, v.Version, r.Feed)
	}
	if err := r.Validate(); err != nil {
		return Source{}, 0, badData("ingest: feed %s version %d: %v", s.Feed, v.Version, err)
	}
	return r, v.Version, nil
}
