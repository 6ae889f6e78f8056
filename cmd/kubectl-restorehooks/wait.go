/*
Copyright 2026 The restore-hook-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/describe"
)

// Exit statuses of wait (SPEC §11), so a DR script can gate on the outcome.
const (
	exitCompleted       = 0
	exitPartiallyFailed = 1
	exitFailed          = 2 // also: the run does not exist, was deleted, or the outcome could not be read
	exitTimedOut        = 3
)

type waitOptions struct {
	*rootOptions
	timeout       time.Duration
	restore       string
	allNamespaces bool
}

func newWaitCommand(o *rootOptions) *cobra.Command {
	w := &waitOptions{rootOptions: o}
	cmd := &cobra.Command{
		Use:   "wait (RUN | --restore NAME) [--timeout D]",
		Short: "Block until runs are finished; the exit status says how they ended",
		Long: `Block until the run, or every run of a Restore, is in a terminal phase, following it with a watch;
on a terminal the progress is shown in place. Exit status:
  0  Completed: every hook succeeded (or none applied)
  1  PartiallyFailed: at least one hook failed or was skipped
  2  Failed: the run could not proceed; also when the run does not exist, is deleted while waited for,
     or its outcome cannot be read (an API or usage error)
  3  --timeout passed (or the wait was interrupted) before the end
With --restore the worst outcome of the runs wins. Every wait of a run is bounded by its maxWait, so a
run always ends while the operator runs; --timeout bounds the wait itself.`,
		Example: `  kubectl restorehooks wait -n velero r2-hooks --timeout 30m
  kubectl restorehooks wait -n velero --restore r2
  kubectl restorehooks wait -A --restore r2 && echo "hooks done"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Every failure of wait exits 2 (never 1, which a script may accept as "partially failed").
			if err := w.run(cmd.Context(), args); err != nil {
				var ee *exitError
				if errors.As(err, &ee) {
					return err
				}
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitFailed, err: err} })
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "give up after this long (exit 3); 0 waits until the runs end")
	cmd.Flags().StringVar(&w.restore, "restore", "", "wait for every run whose spec.restoreRef names this Restore")
	cmd.Flags().BoolVarP(&w.allNamespaces, "all-namespaces", "A", false, "with --restore: look for its runs in every namespace")
	return cmd
}

// waitTarget says which runs a wait follows.
type waitTarget struct {
	// name is the run's name when waiting for one run.
	name string
	// restore is the Restore's name when waiting for every run of it.
	restore string
	// namespace is where to look; empty for every namespace.
	namespace string
}

func (t waitTarget) String() string {
	if t.name != "" {
		return fmt.Sprintf("restorehookrun %q %s", t.name, t.where())
	}
	return fmt.Sprintf("the RestoreHookRuns of Restore %q %s", t.restore, t.where())
}

func (t waitTarget) where() string {
	if t.namespace == "" {
		return "in any namespace"
	}
	return fmt.Sprintf("in namespace %q", t.namespace)
}

// notFound is the error for a target with nothing to wait for.
func (t waitTarget) notFound() error {
	if t.name != "" {
		return fmt.Errorf("restorehookrun %q not found %s", t.name, t.where())
	}
	return fmt.Errorf("no RestoreHookRun of Restore %q %s (spec.restoreRef.name)", t.restore, t.where())
}

func (t waitTarget) matches(run *v1alpha1.RestoreHookRun) bool {
	if t.name != "" {
		return run.Name == t.name
	}
	return run.Spec.RestoreRef.Name == t.restore
}

// fieldSelector narrows list and watch to the one run on the server; runs of a Restore are filtered
// here, since spec.restoreRef is not a field the API server can select on.
func (t waitTarget) fieldSelector() string {
	if t.name != "" {
		return fields.OneTermEqualSelector("metadata.name", t.name).String()
	}
	return ""
}

func (w *waitOptions) target(args []string) (waitTarget, error) {
	switch {
	case len(args) > 1:
		return waitTarget{}, fmt.Errorf("wait takes one RUN, got %d arguments: %s", len(args), strings.Join(args, " "))
	case len(args) == 1 && w.restore != "":
		return waitTarget{}, fmt.Errorf("give either RUN (%q) or --restore (%q), not both", args[0], w.restore)
	case len(args) == 0 && w.restore == "":
		return waitTarget{}, fmt.Errorf("name a run (wait RUN) or a Restore (wait --restore NAME)")
	case len(args) == 1 && w.allNamespaces:
		return waitTarget{}, fmt.Errorf("--all-namespaces goes with --restore; a run %q is named in one namespace (-n)", args[0])
	case w.timeout < 0:
		return waitTarget{}, fmt.Errorf("--timeout %s is negative", w.timeout)
	}
	t := waitTarget{restore: w.restore}
	if len(args) == 1 {
		t.name = args[0]
	}
	if !w.allNamespaces {
		ns, err := w.namespace()
		if err != nil {
			return waitTarget{}, err
		}
		t.namespace = ns
	}
	return t, nil
}

func (w *waitOptions) run(ctx context.Context, args []string) error {
	target, err := w.target(args)
	if err != nil {
		return err
	}
	c, err := w.dynamicClient()
	if err != nil {
		return err
	}
	waitCtx := ctx
	if w.timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	runs := c.Resource(runsResource).Namespace(target.namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = target.fieldSelector()
			return runs.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = target.fieldSelector()
			return runs.Watch(ctx, opts)
		},
	}
	progress := newProgressLine(w.ErrOut, isTerminal(w.ErrOut))
	tr := newTracker(target)
	code, err := follow(waitCtx, lw, tr, progress.show)
	progress.end()
	if err != nil {
		if waitCtx.Err() != nil {
			return w.gaveUp(ctx, tr, target)
		}
		return err
	}
	for _, run := range tr.sorted() {
		if _, err := fmt.Fprintln(w.Out, describe.Outcome(&run)); err != nil {
			return err
		}
	}
	for _, key := range tr.deletedKeys() {
		if _, err := fmt.Fprintf(w.Out, "%s: deleted before it finished\n", key); err != nil {
			return err
		}
	}
	if code != exitCompleted {
		return &exitError{code: code, silent: true}
	}
	return nil
}

// gaveUp is the timeout (or interrupt) outcome: exit 3 with where the runs were.
func (w *waitOptions) gaveUp(ctx context.Context, tr *tracker, target waitTarget) error {
	why := fmt.Sprintf("timed out after %s", w.timeout)
	if ctx.Err() != nil {
		why = "interrupted"
	}
	state := "nothing seen yet"
	if runs := tr.sorted(); len(runs) > 0 {
		state = describe.Progress(runs)
	}
	return &exitError{code: exitTimedOut, err: fmt.Errorf("%s waiting for %s: %s", why, target, state)}
}

// follow lists the target's runs, then follows them with a watch (client-go's RetryWatcher, which
// resumes from the last resource version after a dropped connection) until every run is terminal. It
// lists again only when the server has compacted past that version (410 Gone). show gets the progress
// after every change.
func follow(ctx context.Context, lw *cache.ListWatch, tr *tracker, show func(string)) (int, error) {
	for {
		obj, err := lw.ListWithContext(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, apiError(err, tr.target.namespace, "")
		}
		list, ok := obj.(*unstructured.UnstructuredList)
		if !ok {
			return 0, fmt.Errorf("listing RestoreHookRuns: unexpected %T", obj)
		}
		if err := tr.sync(list.Items); err != nil {
			return 0, err
		}
		if tr.empty() {
			return 0, &exitError{code: exitFailed, err: tr.target.notFound()}
		}
		show(tr.progress())
		if tr.done() {
			return tr.exitCode(), nil
		}
		rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.GetResourceVersion(), lw)
		if err != nil {
			return 0, fmt.Errorf("watching %s: %w", tr.target, err)
		}
		relist, err := consume(ctx, rw, tr, show)
		rw.Stop()
		<-rw.Done()
		switch {
		case err != nil:
			return 0, err
		case !relist:
			return tr.exitCode(), nil
		}
	}
}

// consume applies watch events to the tracker until every run is terminal (false, nil), the watch
// can only be resumed by listing again (true, nil), or it fails.
func consume(ctx context.Context, rw *watchtools.RetryWatcher, tr *tracker, show func(string)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-rw.ResultChan():
			if !ok {
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
				return true, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				u, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					return false, fmt.Errorf("watching %s: unexpected %T", tr.target, ev.Object)
				}
				if err := tr.observe(ev.Type, u); err != nil {
					return false, err
				}
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return true, nil
				}
				return false, fmt.Errorf("watching %s: %w", tr.target, err)
			default:
				continue
			}
			show(tr.progress())
			if tr.done() {
				return false, nil
			}
		}
	}
}

// tracker holds the last seen state of every run a wait follows, and runs deleted before they ended.
type tracker struct {
	target  waitTarget
	runs    map[string]v1alpha1.RestoreHookRun
	deleted map[string]bool
}

func newTracker(t waitTarget) *tracker {
	return &tracker{target: t, runs: map[string]v1alpha1.RestoreHookRun{}, deleted: map[string]bool{}}
}

func runKey(ns, name string) string { return ns + "/" + name }

// sync replaces the state with a full list; a followed run that is no longer listed and had not ended
// was deleted.
func (t *tracker) sync(items []unstructured.Unstructured) error {
	seen := map[string]bool{}
	for i := range items {
		if err := t.observe(watch.Modified, &items[i]); err != nil {
			return err
		}
		seen[runKey(items[i].GetNamespace(), items[i].GetName())] = true
	}
	for key, run := range t.runs {
		if !seen[key] {
			t.forget(key, run)
		}
	}
	return nil
}

func (t *tracker) observe(typ watch.EventType, u *unstructured.Unstructured) error {
	run, err := toRun(u)
	if err != nil {
		return err
	}
	if !t.target.matches(run) {
		// A run whose restoreRef was edited away from the Restore is no longer followed.
		if old, ok := t.runs[runKey(run.Namespace, run.Name)]; ok {
			delete(t.runs, runKey(old.Namespace, old.Name))
		}
		return nil
	}
	key := runKey(run.Namespace, run.Name)
	if typ == watch.Deleted {
		t.forget(key, *run)
		return nil
	}
	delete(t.deleted, key) // recreated under the same name
	t.runs[key] = *run
	return nil
}

// forget drops a deleted run; one that had not ended counts as failed (the outcome is lost).
func (t *tracker) forget(key string, last v1alpha1.RestoreHookRun) {
	if prev, ok := t.runs[key]; ok {
		last = prev
	}
	delete(t.runs, key)
	if !last.Status.Phase.IsTerminal() {
		t.deleted[key] = true
	} else {
		// It ended before it was deleted: keep its outcome.
		t.runs[key] = last
	}
}

func (t *tracker) empty() bool { return len(t.runs) == 0 && len(t.deleted) == 0 }

func (t *tracker) done() bool {
	for _, run := range t.runs {
		if !run.Status.Phase.IsTerminal() {
			return false
		}
	}
	return true
}

// exitCode is the worst outcome among the runs that ended: a deleted or Failed run 2, PartiallyFailed 1.
func (t *tracker) exitCode() int {
	if len(t.deleted) > 0 {
		return exitFailed
	}
	code := exitCompleted
	for _, run := range t.runs {
		if run.Status.Phase.IsTerminal() {
			code = max(code, exitCodeOf(run.Status.Phase))
		}
	}
	return code
}

// exitCodeOf maps a terminal phase to wait's exit status.
func exitCodeOf(p v1alpha1.RunPhase) int {
	switch p {
	case v1alpha1.RunPhaseCompleted:
		return exitCompleted
	case v1alpha1.RunPhasePartiallyFailed:
		return exitPartiallyFailed
	default:
		return exitFailed
	}
}

func (t *tracker) sorted() []v1alpha1.RestoreHookRun {
	keys := make([]string, 0, len(t.runs))
	for k := range t.runs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]v1alpha1.RestoreHookRun, 0, len(keys))
	for _, k := range keys {
		out = append(out, t.runs[k])
	}
	return out
}

func (t *tracker) deletedKeys() []string {
	keys := make([]string, 0, len(t.deleted))
	for k := range t.deleted {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (t *tracker) progress() string {
	s := describe.Progress(t.sorted())
	if n := len(t.deleted); n > 0 {
		s += fmt.Sprintf(", %d deleted", n)
	}
	return s
}

// progressLine rewrites one line of a terminal in place ("\r", erase line); off a terminal it writes
// nothing, so a script's log holds only the outcome lines.
type progressLine struct {
	w       io.Writer
	on      bool
	last    string
	written bool
}

func newProgressLine(w io.Writer, on bool) *progressLine { return &progressLine{w: w, on: on} }

func (p *progressLine) show(s string) {
	if !p.on || s == p.last {
		return
	}
	p.last, p.written = s, true
	_, _ = fmt.Fprint(p.w, "\r\x1b[K"+s)
}

func (p *progressLine) end() {
	if p.written {
		_, _ = fmt.Fprintln(p.w)
	}
}
