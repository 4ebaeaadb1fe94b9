package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// FeedVersion is one version of a data feed: a named pointer to the input
// objects of a training. The registry keeps the source as the JSON object
// the caller gave (the pipeline's activities.Source) and does not read it.
type FeedVersion struct {
	Feed      string          `json:"feed"`
	Version   int             `json:"version"`
	Source    json.RawMessage `json:"source"`
	Actor     string          `json:"actor,omitempty"`
	Note      string          `json:"note,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// CheckFeedName reports whether name can name a feed: the rules of model
// names.
func CheckFeedName(name string) error { return checkName("feed", name) }

const feedQuery = `SELECT feed_name, version, source, actor, note, created_at FROM feed_versions`

// PublishFeed makes source the latest version of feed, creating the feed
// with version 1. When source equals the latest version already (as JSON
// values), nothing is written and that version is returned with added
// false, so a data job may publish after every export and add versions only
// when the data changed. Versions are numbered under a lock on the feed's
// row, so concurrent publishers get distinct numbers.
func (r *Registry) PublishFeed(ctx context.Context, feed string, source json.RawMessage, actor, note string) (v FeedVersion, added bool, err error) {
	v, added, err = r.publishFeed(ctx, feed, source, actor, note)
	if err != nil {
		return FeedVersion{}, false, fmt.Errorf("registry: publish feed %s: %w", feed, err)
	}
	return v, added, nil
}

func (r *Registry) publishFeed(ctx context.Context, feed string, source json.RawMessage, actor, note string) (FeedVersion, bool, error) {
	if err := CheckFeedName(feed); err != nil {
		return FeedVersion{}, false, err
	}
	src, err := jsonObject("source", source)
	if err != nil {
		return FeedVersion{}, false, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(src), &fields); err != nil || len(fields) == 0 {
		return FeedVersion{}, false, fmt.Errorf("empty source: %w", ErrInvalid)
	}
	// JSON allows what jsonb refuses; refuse it here, before any SQL.
	if !utf8.ValidString(src) || strings.Contains(src, `\u0000`) {
		return FeedVersion{}, false, fmt.Errorf("source: invalid UTF-8 or a NUL character: %w", ErrInvalid)
	}
	// Text for people, made storable as an alias move's reason is.
	actor, note = cleanText(actor, MaxNoteBytes), cleanText(note, MaxNoteBytes)
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return FeedVersion{}, false, err
	}
	defer rollback(tx)
	if _, err := tx.ExecContext(ctx, `INSERT INTO feeds (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, feed); err != nil {
		return FeedVersion{}, false, err
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM feeds WHERE name = $1 FOR UPDATE`, feed); err != nil {
		return FeedVersion{}, false, err
	}
	latest, err := scanFeedVersion(tx.QueryRowContext(ctx, feedQuery+` WHERE feed_name = $1 ORDER BY version DESC LIMIT 1`, feed))
	switch {
	case err == nil:
		var same bool
		if err := tx.QueryRowContext(ctx, `SELECT $1::jsonb = $2::jsonb`, string(latest.Source), src).Scan(&same); err != nil {
			return FeedVersion{}, false, err
		}
		if same {
			return latest, false, tx.Commit()
		}
	case !errors.Is(err, sql.ErrNoRows):
		return FeedVersion{}, false, err
	}
	v, err := scanFeedVersion(tx.QueryRowContext(ctx, `INSERT INTO feed_versions (feed_name, version, source, actor, note)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING feed_name, version, source, actor, note, created_at`,
		feed, latest.Version+1, src, actor, note))
	if err != nil {
		return FeedVersion{}, false, err
	}
	return v, true, tx.Commit()
}

// Feed returns the latest version of feed, or ErrNotFound when the feed
// was never published.
func (r *Registry) Feed(ctx context.Context, feed string) (FeedVersion, error) {
	if err := CheckFeedName(feed); err != nil {
		return FeedVersion{}, fmt.Errorf("registry: %w", err)
	}
	v, err := scanFeedVersion(r.db.QueryRowContext(ctx, feedQuery+` WHERE feed_name = $1 ORDER BY version DESC LIMIT 1`, feed))
	if errors.Is(err, sql.ErrNoRows) {
		return FeedVersion{}, fmt.Errorf("registry: feed %s: %w", feed, ErrNotFound)
	}
	if err != nil {
		return FeedVersion{}, fmt.Errorf("registry: feed %s: %w", feed, err)
	}
	return v, nil
}

// FeedHistory returns every version of feed, newest first, or ErrNotFound
// when the feed was never published.
func (r *Registry) FeedHistory(ctx context.Context, feed string) ([]FeedVersion, error) {
	if err := CheckFeedName(feed); err != nil {
		return nil, fmt.Errorf("registry: feed history: %w", err)
	}
	vs, err := r.feedVersions(ctx, feedQuery+` WHERE feed_name = $1 ORDER BY version DESC`, feed)
	if err != nil {
		return nil, fmt.Errorf("registry: feed history of %s: %w", feed, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("registry: feed history of %s: %w", feed, ErrNotFound)
	}
	return vs, nil
}

// Feeds returns the latest version of every feed, by name.
func (r *Registry) Feeds(ctx context.Context) ([]FeedVersion, error) {
	vs, err := r.feedVersions(ctx, `SELECT DISTINCT ON (feed_name) feed_name, version, source, actor, note, created_at
		FROM feed_versions ORDER BY feed_name, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("registry: feeds: %w", err)
	}
	return vs, nil
}

func (r *Registry) feedVersions(ctx context.Context, query string, args ...any) ([]FeedVersion, error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vs := []FeedVersion{}
	for rows.Next() {
		v, err := scanFeedVersion(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

func scanFeedVersion(s scanner) (FeedVersion, error) {
	var (
		v   FeedVersion
		src []byte
	)
	if err := s.Scan(&v.Feed, &v.Version, &src, &v.Actor, &v.Note, &v.CreatedAt); err != nil {
		return FeedVersion{}, err
	}
	v.Source = json.RawMessage(src)
	return v, nil
}
