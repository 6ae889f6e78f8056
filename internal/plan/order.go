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

package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// EntryEvent says that a resources[] entry with dependsOn was released (its dependencies are done) or
// skipped because a dependency failed, in this pass (SPEC §13).
type EntryEvent struct {
	// Entry is the entry's name.
	Entry string
	// Released is true when the entry's hooks may now start, false when they were skipped.
	Released bool
	// Message says why, naming the dependency.
	Message string
}

// singlePod reports whether a spec hook belongs to a singlePod entry.
func (d *decider) singlePod(h *hook.ExecHook) bool {
	if h.Source != v1alpha1.HookSourceSpec || int(h.ResourceIndex) >= len(d.in.Spec.Hooks.Resources) {
		return false
	}
	return d.in.Spec.Hooks.Resources[h.ResourceIndex].SinglePod
}

// ofEntry reports whether a record is an exec hook of resources[i].
func ofEntry(r *v1alpha1.HookRecord, i int) bool {
	return r.Type == v1alpha1.HookTypeExec && r.Source == v1alpha1.HookSourceSpec && int(r.ResourceIndex) == i
}

// chooseSinglePods keeps each singlePod entry's exec hooks in one pod (SPEC §13): the pod already
// holding its records, unless that pod went away or terminated before any of them started; otherwise the
// pod whose target container came up first, ties by namespace/name. Every other pod's hooks of that
// entry are dropped before records are made, so they get none.
func (d *decider) chooseSinglePods() {
	for i := range d.in.Spec.Hooks.Resources {
		if !d.in.Spec.Hooks.Resources[i].SinglePod {
			continue
		}
		chosen := d.keptChoice(i)
		if chosen == "" {
			chosen = d.firstUp(i)
		}
		for _, uid := range d.order {
			if uid == chosen {
				continue
			}
			ps := d.pods[uid]
			ps.hooks = slices.DeleteFunc(ps.hooks, func(h hook.ExecHook) bool {
				return h.Source == v1alpha1.HookSourceSpec && int(h.ResourceIndex) == i
			})
		}
	}
}

// keptChoice returns the pod that already holds entry i's records, if that choice stands. A choice whose
// pod left before any hook of the entry started is dropped with its records: nothing ran there.
func (d *decider) keptChoice(i int) types.UID {
	var holder types.UID
	final := false
	for k := range d.records {
		r := &d.records[k]
		if !ofEntry(r, i) {
			continue
		}
		holder = r.PodUID
		if r.Attempts > 0 || r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning {
			final = true
		}
	}
	if holder == "" {
		return ""
	}
	if ps := d.pods[holder]; final || (ps != nil && podLive(ps.pod)) || d.in.FoldedPods[holder] {
		return holder
	}
	d.records = slices.DeleteFunc(d.records, func(r v1alpha1.HookRecord) bool { return ofEntry(&r, i) })
	d.pos = make(map[RecordKey]int, len(d.records))
	for k := range d.records {
		d.pos[KeyOf(&d.records[k])] = k
	}
	return ""
}

// firstUp returns the pod, among those entry i selects, whose target container (that of the entry's first
// exec hook there) came up first; "" when none is up yet.
func (d *decider) firstUp(i int) types.UID {
	var best types.UID
	var bestAt time.Time
	for _, uid := range d.order { // namespace/name order, so the first of equal times wins
		ps := d.pods[uid]
		if !podLive(ps.pod) {
			continue
		}
		k := slices.IndexFunc(ps.hooks, func(h hook.ExecHook) bool {
			return h.Source == v1alpha1.HookSourceSpec && int(h.ResourceIndex) == i
		})
		if k < 0 || ps.hooks[k].Problem != nil {
			continue
		}
		c := ps.hooks[k].Container
		if !hook.ContainerUp(ps.pod, c, hook.ContainerWaitsForReady(ps.hooks, c)) {
			continue
		}
		if at := containerStarted(ps.pod, c); best == "" || at.Before(bestAt) {
			best, bestAt = uid, at
		}
	}
	return best
}

func podLive(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// entryState is what one pass knows of a resources[] entry's exec hooks.
type entryState struct {
	unfinished int
	failed     *v1alpha1.HookRecord // the first hook that ended other than Succeeded
}

// orderEntries applies dependsOn (SPEC §13): an entry's exec hooks that have not started wait while an
// entry it depends on is not done, and are skipped once one of its hooks ended other than Succeeded.
// Entries are settled in dependency order, so a failure skips a whole chain in one pass.
func (d *decider) orderEntries() {
	resources := d.in.Spec.Hooks.Resources
	if !slices.ContainsFunc(resources, func(rs v1alpha1.RestoreResourceHookSpec) bool { return len(rs.DependsOn) > 0 }) {
		return
	}
	d.held = map[RecordKey]bool{}
	wasHeld := map[int]bool{}
	states := make([]entryState, len(resources))
	for k := range d.records {
		r := &d.records[k]
		if r.Type != v1alpha1.HookTypeExec || r.Source != v1alpha1.HookSourceSpec || int(r.ResourceIndex) >= len(resources) {
			continue
		}
		i := int(r.ResourceIndex)
		if r.Reason == v1alpha1.ReasonWaitingForDependency && !r.Phase.IsFinished() {
			// Held in the last pass: released unless still held below.
			wasHeld[i] = true
			r.Phase, r.Reason, r.Message = v1alpha1.HookPhasePending, "", ""
		}
		d.tally(&states[i], r)
	}
	for _, i := range dependencyOrder(resources) {
		rs := &resources[i]
		var holdBy string
		for _, j := range dependencies(resources, i) {
			dep := &states[j]
			if dep.failed != nil {
				d.skipForDependency(i, &states[i], resources[j].Name, dep.failed)
				holdBy = ""
				break
			}
			if holdBy == "" {
				switch {
				case dep.unfinished > 0:
					holdBy = fmt.Sprintf("waiting for entry %q: %s not ended yet", resources[j].Name, hooksN(dep.unfinished))
				case d.in.RestoreMayCreatePods:
					holdBy = fmt.Sprintf("waiting for entry %q: the Restore can still create pods for it", resources[j].Name)
				}
			}
		}
		held := false
		if holdBy != "" {
			for k := range d.records {
				r := &d.records[k]
				if !ofEntry(r, i) || r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning || r.Attempts > 0 {
					continue
				}
				r.Phase, r.Reason, r.Message = v1alpha1.HookPhaseWaiting, v1alpha1.ReasonWaitingForDependency, Truncate(holdBy, MaxMessage)
				d.held[KeyOf(r)] = true
				held = true
			}
		}
		if wasHeld[i] && !held && states[i].failed == nil {
			d.entryEvents = append(d.entryEvents, EntryEvent{Entry: rs.Name, Released: true,
				Message: fmt.Sprintf("entry %q released: %s done", rs.Name, quoteList(rs.DependsOn))})
		}
	}
}

func (d *decider) tally(st *entryState, r *v1alpha1.HookRecord) {
	switch {
	case !r.Phase.IsFinished():
		st.unfinished++
	case r.Phase != v1alpha1.HookPhaseSucceeded && st.failed == nil:
		st.failed = r
	}
}

// skipForDependency skips entry i's exec hooks that have not started, because dependency dep failed.
func (d *decider) skipForDependency(i int, st *entryState, dep string, failed *v1alpha1.HookRecord) {
	msg := Truncate(fmt.Sprintf("not started: entry %q did not succeed: hook %s[%d] in %s container %s ended %s (%s)",
		dep, failed.Hook, failed.Index, failed.Pod, failed.Container, failed.Phase, failed.Reason), MaxMessage)
	skipped := 0
	for k := range d.records {
		r := &d.records[k]
		if !ofEntry(r, i) || r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning {
			continue
		}
		d.finish(r, v1alpha1.HookPhaseSkipped, v1alpha1.ReasonDependencyFailed, msg)
		st.unfinished--
		if st.failed == nil {
			st.failed = r
		}
		skipped++
	}
	if skipped > 0 {
		d.entryEvents = append(d.entryEvents, EntryEvent{Entry: d.in.Spec.Hooks.Resources[i].Name, Message: fmt.Sprintf(
			"entry %q skipped (%s): %s", d.in.Spec.Hooks.Resources[i].Name, hooksN(skipped), strings.TrimPrefix(msg, "not started: "))})
	}
}

// dependencyRank maps each entry index to its place in dependencyOrder; nil when no entry has dependsOn
// (declaration order stands).
func dependencyRank(resources []v1alpha1.RestoreResourceHookSpec) map[int32]int {
	if !slices.ContainsFunc(resources, func(rs v1alpha1.RestoreResourceHookSpec) bool { return len(rs.DependsOn) > 0 }) {
		return nil
	}
	rank := make(map[int32]int, len(resources))
	for pos, i := range dependencyOrder(resources) {
		rank[int32(i)] = pos
	}
	return rank
}

// dependencies returns the indexes of the entries resources[i] depends on (every entry of a named name).
func dependencies(resources []v1alpha1.RestoreResourceHookSpec, i int) []int {
	var out []int
	for j := range resources {
		if j != i && slices.Contains(resources[i].DependsOn, resources[j].Name) {
			out = append(out, j)
		}
	}
	return out
}

// dependencyOrder returns entry indexes with every entry after those it depends on (declaration order
// otherwise). Entries on a cycle, which admission refuses, come last in declaration order: their hooks
// stay held until their waits end.
func dependencyOrder(resources []v1alpha1.RestoreResourceHookSpec) []int {
	placed := make([]bool, len(resources))
	var order []int
	for progress := true; progress; {
		progress = false
		for i := range resources {
			if placed[i] {
				continue
			}
			ready := true
			for _, j := range dependencies(resources, i) {
				ready = ready && placed[j]
			}
			if ready {
				placed[i], progress = true, true
				order = append(order, i)
			}
		}
	}
	for i := range resources {
		if !placed[i] {
			order = append(order, i)
		}
	}
	return order
}

func hooksN(n int) string {
	if n == 1 {
		return "1 hook"
	}
	return fmt.Sprintf("%d hooks", n)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
