package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/internal/registry"
)

func newFeedCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feed",
		Short: "manage data feeds: named, versioned inputs that trainings and schedules read at run time",
		Long: `A data feed names the input of a training. Each publish adds a version; a training or
schedule given --feed reads the feed's latest version when a run starts, so a nightly
schedule retrains on whatever was published last.`,
	}
	var (
		tf   trainFlags
		note string
	)
	publish := &cobra.Command{
		Use:   "publish NAME",
		Short: "upload local files (or name objects in the bucket) and make them the feed's latest version",
		Example: `  starter feed publish catalogue --x X_train.csv --y Y_train.csv
  starter feed publish products --csv products.csv --text-col title,description --label-col category`,
		Args: cobra.ExactArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			if err := registry.CheckFeedName(args[0]); err != nil {
				return asUsage(err)
			}
			// uploadSource checks that the objects are there, with the
			// columns a run reads: a feed naming others would fail every
			// run on it.
			src, err := a.uploadSource(ctx, tf, nil)
			if err != nil {
				return err
			}
			raw, err := json.Marshal(src)
			if err != nil {
				return err
			}
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			v, added, err := r.PublishFeed(ctx, args[0], raw, actor(), note)
			if err != nil {
				return err
			}
			if !added {
				a.log.WithFields(map[string]any{"feed": v.Feed, "version": v.Version}).Info("feed already at this data; no new version")
			}
			return a.printJSON(map[string]any{"feed": v.Feed, "version": v.Version, "added": added, "source": v.Source})
		}),
	}
	fl := publish.Flags()
	tf.addFileFlags(fl)
	tf.addSourceFlags(fl)
	fl.StringVar(&note, "note", "", "note recorded with the version")

	show := &cobra.Command{
		Use: "show NAME", Short: "list a feed's versions, newest first", Args: cobra.ExactArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			vs, err := r.FeedHistory(ctx, args[0])
			if errors.Is(err, registry.ErrNotFound) {
				return fmt.Errorf("feed %s was never published (starter feed list shows the feeds)", args[0])
			}
			if err != nil {
				return err
			}
			return a.printJSON(vs)
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "list the feeds with their latest versions", Args: cobra.NoArgs,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			vs, err := r.Feeds(ctx)
			if err != nil {
				return fmt.Errorf("list feeds: %w", err)
			}
			return a.printJSON(vs)
		}),
	}
	cmd.AddCommand(publish, show, list)
	return cmd
}
