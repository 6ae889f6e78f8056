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

// Package describe renders RestoreHookRuns as text for people: the describe view, the list table, the
// recorded output tails and the progress line of `kubectl restorehooks`, which `make run-local` prints
// too. It is pure: RestoreHookRun values in, text out, no API calls, so its output is pinned by golden
// files.
package describe

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// Column widths past which a cell is shortened in the middle. Pod references can be 317 characters
// (namespace/name); a table that wide is unreadable, and `-o yaml` keeps the full names.
const (
	maxPodWidth       = 60
	maxContainerWidth = 40
	maxHookWidth      = 40
	maxMessageWidth   = 160
	// maxFailureLines caps the failure messages listed under the table; the rest are counted.
	maxFailureLines = 20
)

// Options tune the rendering.
type Options struct {
	// Color adds ANSI colours to phases; set it only when writing to a terminal.
	Color bool
	// Now is the time ages and running durations are measured to; zero leaves them out.
	Now time.Time
}

// Describe writes the describe view of a run: its Restore, phase, counters, times and conditions, then
// one row per hook record (failures first) and the folded counts when records were folded.
func Describe(w io.Writer, run *v1alpha1.RestoreHookRun, opts Options) error {
	st := &run.Status
	var b strings.Builder
	field := func(name, value string) { fmt.Fprintf(&b, "%-15s %s\n", name+":", value) }

	field("Name", run.Name)
	field("Namespace", run.Namespace)
	field("Restore", restoreText(run))
	field("Phase", colourise(string(runPhaseOrPending(st.Phase)), runPhaseColour(st.Phase), opts.Color))
	field("Hooks", fmt.Sprintf("%d/%d succeeded, %d failed, %d skipped, %d pending",
		st.HooksSucceeded, st.HooksAttempted, st.HooksFailed, st.HooksSkipped, st.HooksPending))
	field("Pods in scope", strconv.Itoa(int(st.PodsInScope)))
	if st.AbortedBy != "" {
		// abortedBy is the operator's sentence naming the failed hook.
		field("Aborted", st.AbortedBy+"; every hook not started by then was skipped")
	}
	field("Started", timeText(st.StartTime, opts.Now))
	if st.CompletionTime != nil {
		completed := timeText(st.CompletionTime, opts.Now)
		if st.StartTime != nil {
			completed += ", took " + spanText(st.StartTime.Time, st.CompletionTime.Time)
		}
		field("Completed", completed)
	}
	if run.Generation != 0 && st.ObservedGeneration != 0 && st.ObservedGeneration != run.Generation {
		field("Status of", fmt.Sprintf("generation %d (the spec is at generation %d; the operator has not caught up yet)",
			st.ObservedGeneration, run.Generation))
	}

	b.WriteString("Conditions:\n")
	if len(st.Conditions) == 0 {
		b.WriteString("  <none>\n")
	} else {
		conds := &table{header: []string{"TYPE", "STATUS", "REASON", "MESSAGE"}}
		for _, c := range st.Conditions {
			conds.add(plain(c.Type), plain(string(c.Status)), plain(c.Reason), plain(oneLine(c.Message, maxMessageWidth)))
		}
		if err := flush(w, &b); err != nil {
			return err
		}
		if err := conds.write(w, "  ", opts.Color); err != nil {
			return err
		}
	}

	writeOrder(&b, run.Spec.Hooks.Resources)

	b.WriteString("Hooks:\n")
	if len(st.Hooks) == 0 {
		if st.HooksOmitted > 0 {
			b.WriteString("  <every record folded>\n")
		} else {
			b.WriteString("  <none>\n")
		}
	} else {
		if err := flush(w, &b); err != nil {
			return err
		}
		if err := hookTable(SortedRecords(st.Hooks), opts).write(w, "  ", opts.Color); err != nil {
			return err
		}
	}
	if st.HooksOmitted > 0 {
		fmt.Fprintf(&b, "Folded:         %d more %s of %d %s folded into the counters to keep the status under 1 MiB: "+
			"%d succeeded, %d failed, %d skipped\n",
			st.HooksOmitted, plural(int(st.HooksOmitted), "hook", "hooks"), len(st.FoldedPods),
			plural(len(st.FoldedPods), "pod", "pods"),
			st.HooksOmitted-st.HooksOmittedFailed-st.HooksOmittedSkipped, st.HooksOmittedFailed, st.HooksOmittedSkipped)
	}
	writeFailures(&b, st.Hooks)
	return flush(w, &b)
}

// writeOrder shows the run's entries as a dependency list (SPEC §13: "warm-cache ← db-migrate"), when
// any entry orders its hooks (dependsOn) or runs them in one pod (singlePod).
func writeOrder(b *strings.Builder, resources []v1alpha1.RestoreResourceHookSpec) {
	ordered := false
	for _, rs := range resources {
		ordered = ordered || len(rs.DependsOn) > 0 || rs.SinglePod
	}
	if !ordered {
		return
	}
	b.WriteString("Order:\n")
	for _, rs := range resources {
		line := "  " + rs.Name
		if len(rs.DependsOn) > 0 {
			line += " ← " + strings.Join(rs.DependsOn, ", ")
		}
		if rs.SinglePod {
			line += "  (single pod)"
		}
		b.WriteString(line + "\n")
	}
}

// writeFailures lists the messages of failed and skipped records, which the table has no room for.
func writeFailures(b *strings.Builder, records []v1alpha1.HookRecord) {
	var lines []string
	for _, r := range SortedRecords(records) {
		if (r.Phase != v1alpha1.HookPhaseFailed && r.Phase != v1alpha1.HookPhaseSkipped) || r.Message == "" {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s %s %s: %s", truncateMiddle(r.Pod, maxPodWidth),
			truncateMiddle(r.Container, maxContainerWidth), truncateMiddle(r.Hook, maxHookWidth),
			oneLine(r.Message, maxMessageWidth)))
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("Messages:\n")
	for i, l := range lines {
		if i == maxFailureLines {
			fmt.Fprintf(b, "  … and %d more (kubectl get rhr -o yaml has them all)\n", len(lines)-maxFailureLines)
			break
		}
		b.WriteString(l + "\n")
	}
}

// hookTable is the POD CONTAINER HOOK SOURCE TYPE PHASE REASON ATTEMPTS EXIT DURATION table.
func hookTable(records []v1alpha1.HookRecord, opts Options) *table {
	t := &table{header: []string{"POD", "CONTAINER", "HOOK", "SOURCE", "TYPE", "PHASE", "REASON", "ATTEMPTS", "EXIT", "DURATION"}}
	names := hookNames(records)
	for i, r := range records {
		exit := "-"
		if r.ExitCode != nil {
			exit = strconv.Itoa(int(*r.ExitCode))
		}
		t.add(plain(truncateMiddle(r.Pod, maxPodWidth)), plain(dash(truncateMiddle(r.Container, maxContainerWidth))),
			plain(names[i]), plain(string(r.Source)), plain(string(r.Type)),
			cell{text: string(r.Phase), colour: hookPhaseColour(r.Phase)}, plain(dash(string(r.Reason))),
			plain(strconv.Itoa(int(r.Attempts))), plain(exit), plain(recordDuration(r, opts.Now)))
	}
	return t
}

// hookNames are the HOOK cells: the hook's name, and where one pod has several records of the same
// hook and container (a spec with several postHooks for one container), its position as the operator
// writes it in messages, name[resourceIndex.index], so the rows can be told apart.
func hookNames(records []v1alpha1.HookRecord) []string {
	type key struct{ pod, container, hook string }
	seen := map[key]int{}
	for _, r := range records {
		seen[key{r.Pod, r.Container, r.Hook}]++
	}
	names := make([]string, len(records))
	for i, r := range records {
		suffix := ""
		if seen[key{r.Pod, r.Container, r.Hook}] > 1 {
			suffix = fmt.Sprintf("[%d.%d]", r.ResourceIndex, r.Index)
		}
		names[i] = truncateMiddle(r.Hook, maxHookWidth-len(suffix)) + suffix
	}
	return names
}

// naturalCompare orders strings with their digit runs compared as numbers, so batch-2 comes before
// batch-10 as a StatefulSet's ordinals do.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), cmp.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// SortedRecords returns the records in the order describe and logs show them: failed, then skipped,
// then unfinished, then succeeded, so problems come first; within that by pod, init hooks before exec
// hooks, and declaration order. The input is not changed.
func SortedRecords(records []v1alpha1.HookRecord) []v1alpha1.HookRecord {
	out := slices.Clone(records)
	slices.SortStableFunc(out, func(a, b v1alpha1.HookRecord) int {
		return cmp.Or(
			cmp.Compare(phaseRank(a.Phase), phaseRank(b.Phase)),
			naturalCompare(a.Pod, b.Pod),
			cmp.Compare(typeRank(a.Type), typeRank(b.Type)),
			cmp.Compare(sourceRank(a.Source), sourceRank(b.Source)),
			cmp.Compare(a.ResourceIndex, b.ResourceIndex),
			cmp.Compare(a.Index, b.Index),
			cmp.Compare(a.Container, b.Container),
		)
	})
	return out
}

func phaseRank(p v1alpha1.HookPhase) int {
	switch p {
	case v1alpha1.HookPhaseFailed:
		return 0
	case v1alpha1.HookPhaseSkipped:
		return 1
	case v1alpha1.HookPhaseRunning:
		return 2
	case v1alpha1.HookPhaseWaiting:
		return 3
	case v1alpha1.HookPhasePending:
		return 4
	case v1alpha1.HookPhaseSucceeded:
		return 6
	default:
		return 5
	}
}

func typeRank(t v1alpha1.HookType) int {
	if t == v1alpha1.HookTypeInit {
		return 0 // init containers run before any exec hook can
	}
	return 1
}

func sourceRank(s v1alpha1.HookSource) int {
	if s == v1alpha1.HookSourceAnnotation {
		return 0
	}
	return 1
}

// recordDuration is how long a hook took, or has been running so far ("12s…"). Record times are stored
// to the second, so a hook that finished within its first second shows "<1s".
func recordDuration(r v1alpha1.HookRecord, now time.Time) string {
	switch {
	case r.StartTime == nil:
		return "-"
	case r.CompletionTime != nil:
		return spanText(r.StartTime.Time, r.CompletionTime.Time)
	case !now.IsZero() && !r.Phase.IsFinished():
		return spanText(r.StartTime.Time, now) + "…"
	default:
		return "-"
	}
}

func spanText(from, to time.Time) string {
	d := to.Sub(from)
	if d < time.Second {
		return "<1s"
	}
	return duration.HumanDuration(d)
}

func timeText(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	s := t.UTC().Format(time.RFC3339)
	if !now.IsZero() {
		s += " (" + duration.HumanDuration(now.Sub(t.Time)) + " ago)"
	}
	return s
}

func restoreText(run *v1alpha1.RestoreHookRun) string {
	name := run.Spec.RestoreRef.Name
	if ns := run.Spec.RestoreRef.Namespace; ns != "" {
		name = ns + "/" + name
	}
	if run.Status.RestorePhase == "" {
		return name + " (not seen yet)"
	}
	return name + " (phase " + run.Status.RestorePhase + ")"
}

// runPhaseOrPending shows a run the operator has not written a status for yet as Pending.
func runPhaseOrPending(p v1alpha1.RunPhase) v1alpha1.RunPhase {
	if p == "" {
		return v1alpha1.RunPhasePending
	}
	return p
}

func runPhaseColour(p v1alpha1.RunPhase) colour {
	switch p {
	case v1alpha1.RunPhaseCompleted:
		return colourGreen
	case v1alpha1.RunPhasePartiallyFailed:
		return colourYellow
	case v1alpha1.RunPhaseFailed:
		return colourRed
	case v1alpha1.RunPhaseRunning:
		return colourCyan
	default:
		return colourNone
	}
}

func hookPhaseColour(p v1alpha1.HookPhase) colour {
	switch p {
	case v1alpha1.HookPhaseSucceeded:
		return colourGreen
	case v1alpha1.HookPhaseFailed:
		return colourRed
	case v1alpha1.HookPhaseSkipped:
		return colourYellow
	case v1alpha1.HookPhaseRunning, v1alpha1.HookPhaseWaiting:
		return colourCyan
	default:
		return colourNone
	}
}

func colourise(s string, c colour, on bool) string {
	if !on || c == colourNone {
		return s
	}
	return "\x1b[" + string(c) + "m" + s + "\x1b[0m"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// flush writes what b holds so far and empties it, so text and tables come out in order.
func flush(w io.Writer, b *strings.Builder) error {
	if b.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(w, b.String())
	b.Reset()
	if err != nil {
		return fmt.Errorf("writing the description: %w", err)
	}
	return nil
}
