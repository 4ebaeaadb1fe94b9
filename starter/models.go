package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/registry"
)

func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "models", Short: "list, show, evaluate, promote and roll back registered model versions, and remove aliases"}
	var model string
	cmd.PersistentFlags().StringVar(&model, "model", "", "registered model (default $PRODCAT_MODEL_NAME)")
	name := func(a *app) string {
		if model != "" {
			return model
		}
		return a.cfg.ModelName
	}
	var listJSON bool
	list := &cobra.Command{
		Use: "list", Short: "list the versions of a model with their metrics and aliases", Args: cobra.NoArgs,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			vs, err := r.Versions(ctx, name(a))
			if err != nil {
				return err
			}
			if listJSON {
				if vs == nil {
					vs = []registry.Version{}
				}
				return a.printJSON(vs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tWEIGHTED F1\tALIASES\tDATASET\tCREATED")
			for _, v := range vs { // v.Aliases are sorted
				fmt.Fprintf(tw, "%d\t%.4f\t%v\t%.12s\t%s\n", v.Version, v.Metrics["weighted_f1"], v.Aliases, v.DatasetDigest, v.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print the versions as a JSON array, with their lineage")
	show := &cobra.Command{
		Use: "show VERSION", Short: "show a version with its lineage, metrics and the alias moves to and from it (who and why)", Args: cobra.ExactArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			v, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			mv, err := r.Version(ctx, name(a), v)
			if err != nil {
				return err
			}
			history, err := r.AliasHistory(ctx, name(a))
			if err != nil {
				return err
			}
			return a.printJSON(struct {
				registry.Version
				Moves []registry.AliasMove `json:"moves"`
			}{mv, registry.MovesOf(history, v)})
		}),
	}
	var reason, alias string
	var expect int
	promote := &cobra.Command{
		Use: "promote VERSION", Short: "point an alias (production by default) at a version, recording why", Args: cobra.ExactArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			v, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			if err := a.checkModelFile(ctx, r, name(a), v); err != nil {
				return err
			}
			var mv registry.AliasMove
			if expect >= 0 {
				mv, err = r.CompareAndSetAlias(ctx, name(a), alias, expect, v, reason, actor())
			} else {
				mv, err = r.SetAlias(ctx, name(a), alias, v, reason, actor())
			}
			if err != nil {
				return err
			}
			return a.printJSON(mv)
		}),
	}
	rollback := &cobra.Command{
		Use: "rollback", Short: "move an alias (production by default) back to the version it pointed at before", Args: cobra.NoArgs,
		Long: `rollback moves the alias back to the version it pointed at before its last move
that was not a rollback: run again, it goes one promotion further back, never to the
version the first rollback took out of service, and it is refused when there is nothing
earlier. Give --expect with the version to roll back from (the one the alias points at
now), so that a second rollback, yours or anyone's, of the same version is refused
instead of going back two steps.`,
		Example: `  starter models rollback --reason "regression on shoes" --expect 5   # only if production is still v5`,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			check := func(v int) error { return a.checkModelFile(ctx, r, name(a), v) }
			mv, err := registry.RollbackChecked(ctx, r, name(a), alias, expect, check, reason, actor())
			if err != nil {
				return err
			}
			return a.printJSON(mv)
		}),
	}
	removeAlias := &cobra.Command{
		Use: "remove-alias ALIAS", Short: "remove an alias (not production), recording why; a rollback of it puts it back", Args: cobra.ExactArgs(1),
		Example: `  starter models remove-alias challenger --reason "lost the A/B test"`,
		PreRunE: func(_ *cobra.Command, args []string) error {
			if err := registry.CheckName("alias", args[0]); err != nil {
				return usagef("%w", err)
			}
			if args[0] == registry.AliasProduction {
				return usagef("production cannot be removed: the API serves it; promote another version or roll it back")
			}
			if expect == 0 || expect < -1 {
				return usagef("--expect %d: give the version the alias points at now", expect)
			}
			return checkReason(reason)
		},
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			mv, err := r.RemoveAlias(ctx, name(a), args[0], expect, reason, actor())
			if err != nil {
				return err
			}
			return a.printJSON(mv)
		}),
	}
	removeAlias.Flags().StringVar(&reason, "reason", "", "why the alias is removed (recorded in the history)")
	removeAlias.Flags().IntVar(&expect, "expect", -1, "remove it only if it points at this version now, so a version set meanwhile is not removed unseen")
	_ = removeAlias.MarkFlagRequired("reason")
	for _, c := range []*cobra.Command{promote, rollback} {
		c.Flags().StringVar(&reason, "reason", "", "why the alias moves (recorded in the history)")
		c.Flags().StringVar(&alias, "alias", "production", "alias to move")
		_ = c.MarkFlagRequired("reason")
	}
	promote.Flags().IntVar(&expect, "expect", -1, "move only if the alias points at this version now (0: only if it is not set), so a move made meanwhile is not overwritten; unconditional when not given")
	rollback.Flags().IntVar(&expect, "expect", -1, "roll back only if the alias points at this version now, so two people rolling back the same version go back once; without it, a second rollback goes one promotion further back")
	checkMove := func(*cobra.Command, []string) error {
		if err := registry.CheckName("alias", alias); err != nil {
			return usagef("--alias: %w", err)
		}
		if expect < -1 {
			return usagef("--expect %d: give the version the alias points at now (0: not set)", expect)
		}
		return checkReason(reason)
	}
	promote.PreRunE = checkMove
	rollback.PreRunE = func(cmd *cobra.Command, args []string) error {
		if expect == 0 {
			return usagef("--expect 0: an alias that is not set has nothing to roll back; give the version it points at now")
		}
		return checkMove(cmd, args)
	}
	cmd.AddCommand(list, show, promote, rollback, removeAlias, newModelsEvaluateCmd(name))
	return cmd
}

// checkReason refuses the reasons the API refuses: a blank one says
// nothing in the alias history.
func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return usagef("--reason is blank: say why the alias moves (it is kept in the alias history)")
	}
	if len(reason) > registry.MaxNoteBytes {
		return usagef("--reason is %d bytes; the limit is %d", len(reason), registry.MaxNoteBytes)
	}
	return nil
}

// parseVersion parses a model version number argument.
func parseVersion(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, usagef("version %q: want a positive number", s)
	}
	return v, nil
}

// checkModelFile refuses to point an alias at version v of model when its
// model file is gone from the bucket or corrupt: the API would go on serving the old
// version while the registry named the new one.
func (a *app) checkModelFile(ctx context.Context, r *registry.Registry, model string, v int) error {
	ver, err := r.Version(ctx, model, v)
	if err != nil {
		return err
	}
	s, err := a.artifacts(ctx)
	if err != nil {
		return err
	}
	switch err := s.Verify(ctx, ver.ArtifactKey); {
	case errors.Is(err, artifact.ErrNotFound):
		return fmt.Errorf("version %d of %s has no model file: %s is not in bucket %s", v, model, ver.ArtifactKey, s.Bucket())
	case errors.Is(err, artifact.ErrCorrupt):
		return fmt.Errorf("version %d of %s has a corrupt model file: the bytes of %s in bucket %s do not match its digest", v, model, ver.ArtifactKey, s.Bucket())
	case err != nil:
		return err
	}
	return nil
}
