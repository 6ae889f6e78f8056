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

package describe

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// maxNameWidth caps the NAME and RESTORE columns of the list (names may be 253 characters).
const maxNameWidth = 63

// ListOptions tune List.
type ListOptions struct {
	Options
	// AllNamespaces adds the NAMESPACE column.
	AllNamespaces bool
}

// List writes one row per run: its Restore, phase and counts, sorted by namespace and name. It writes
// nothing for no runs; the caller says so the way kubectl does.
func List(w io.Writer, runs []v1alpha1.RestoreHookRun, opts ListOptions) error {
	if len(runs) == 0 {
		return nil
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b v1alpha1.RestoreHookRun) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	header := []string{"NAME", "RESTORE", "PHASE", "HOOKS", "FAILED", "SKIPPED", "PENDING", "AGE"}
	if opts.AllNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := &table{header: header}
	for i := range sorted {
		run := &sorted[i]
		st := &run.Status
		age := "-"
		if !opts.Now.IsZero() && !run.CreationTimestamp.IsZero() {
			age = duration.HumanDuration(opts.Now.Sub(run.CreationTimestamp.Time))
		}
		phase := runPhaseOrPending(st.Phase)
		row := []cell{plain(truncateMiddle(run.Name, maxNameWidth)), plain(truncateMiddle(run.Spec.RestoreRef.Name, maxNameWidth)),
			{text: string(phase), colour: runPhaseColour(phase)},
			plain(fmt.Sprintf("%d/%d", st.HooksSucceeded, st.HooksAttempted)),
			plain(strconv.Itoa(int(st.HooksFailed))), plain(strconv.Itoa(int(st.HooksSkipped))),
			plain(strconv.Itoa(int(st.HooksPending))), plain(age)}
		if opts.AllNamespaces {
			row = append([]cell{plain(run.Namespace)}, row...)
		}
		t.add(row...)
	}
	if err := t.write(w, "", opts.Color); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	return nil
}

// Progress is the one-line progress of the runs being waited for, such as
// "velero/demo-hooks Running: 14/20 hooks done, 1 failed". Hooks are done once Succeeded, Failed or
// Skipped; several runs are summed.
func Progress(runs []v1alpha1.RestoreHookRun) string {
	var done, total, failed, skipped, terminal int32
	for i := range runs {
		st := &runs[i].Status
		done += st.HooksSucceeded + st.HooksFailed + st.HooksSkipped
		total += st.HooksAttempted
		failed += st.HooksFailed
		skipped += st.HooksSkipped
		if st.Phase.IsTerminal() {
			terminal++
		}
	}
	var b strings.Builder
	if len(runs) == 1 {
		fmt.Fprintf(&b, "%s/%s %s: ", runs[0].Namespace, runs[0].Name, runPhaseOrPending(runs[0].Status.Phase))
	} else {
		fmt.Fprintf(&b, "%d runs, %d finished: ", len(runs), terminal)
	}
	fmt.Fprintf(&b, "%d/%d hooks done", done, total)
	if failed > 0 {
		fmt.Fprintf(&b, ", %d failed", failed)
	}
	if skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", skipped)
	}
	return b.String()
}

// Outcome is the closing line of a run: "velero/demo-hooks: PartiallyFailed, 5/6 hooks succeeded,
// 1 failed, 0 skipped", followed by why when the run itself failed.
func Outcome(run *v1alpha1.RestoreHookRun) string {
	st := &run.Status
	s := fmt.Sprintf("%s/%s: %s, %d/%d hooks succeeded, %d failed, %d skipped", run.Namespace, run.Name,
		runPhaseOrPending(st.Phase), st.HooksSucceeded, st.HooksAttempted, st.HooksFailed, st.HooksSkipped)
	if st.Phase == v1alpha1.RunPhaseFailed {
		for _, c := range st.Conditions {
			if c.Type == v1alpha1.ConditionDegraded && c.Message != "" {
				s += " (" + oneLine(c.Message, maxMessageWidth) + ")"
			}
		}
	}
	return s
}
