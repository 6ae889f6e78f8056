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

// Package plan decides, for one RestoreHookRun, what every exec hook record becomes in one reconcile
// pass and which hooks to start: a pure function of what the reconciler observed (the run's spec and
// recorded state, the pods in scope, the execs in flight and the attempts that finished) and the time.
// It makes no API calls; the reconciler persists the records it returns, then starts the hooks.
package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// MaxMessage bounds record messages and event notes (SPEC §5).
const MaxMessage = 1024

// RecordKey identifies one hook on one pod instance; it maps 1:1 to a status record.
type RecordKey struct {
	PodUID types.UID
	hook.Key
}

// KeyOf returns the key of a status record.
func KeyOf(r *v1alpha1.HookRecord) RecordKey {
	return RecordKey{PodUID: r.PodUID, Key: hook.Key{
		Type: r.Type, Source: r.Source, Hook: r.Hook,
		ResourceIndex: r.ResourceIndex, Index: r.Index, Container: r.Container,
	}}
}

// String renders the key for logs and events: ns/pod container hook[resource.index].
func (k RecordKey) String() string {
	return fmt.Sprintf("%s %s[%d.%d] in container %s", k.Type, k.Hook, k.ResourceIndex, k.Index, k.Container)
}

// Attempt is the outcome of one exec attempt, reported by the executor and not yet persisted.
type Attempt struct {
	Key      RecordKey
	Started  time.Time
	Finished time.Time
	// Reason is empty on success, else NonZeroExit, ExecTimeout or ExecError; or WaitTimeout when every
	// send was refused before the command started until the hook's wait budget ran out (not executed).
	Reason   v1alpha1.HookReason
	ExitCode *int32
	Message  string
	Stdout   string
	Stderr   string
	// NotSent says the hook was dispatched (recorded Running) but handed back before its command was
	// sent: the run no longer wanted it. The hook goes back to waiting, as if never started.
	NotSent bool
}

// Input is everything one pass decides from.
type Input struct {
	Spec *v1alpha1.RestoreHookRunSpec
	// Records are the exec hook records as persisted in status.
	Records []v1alpha1.HookRecord
	// FoldedPods are pods whose hooks all succeeded and whose records were omitted from status.
	FoldedPods map[types.UID]bool
	// AbortedBy is the persisted status.abortedBy.
	AbortedBy string
	// RunStart is when the run started following its Restore (status.startTime). A hook's wait counts
	// from the later of this and its pod's creation: when the operator first could see the pod for this
	// run. Both are durable, so a restarted operator keeps the same deadlines.
	RunStart time.Time
	// Pods are the pods in scope, in namespaces the run may touch.
	Pods []*corev1.Pod
	// Forbidden are pods the run's hook specs explicitly select in namespaces it may not touch: their
	// hooks are recorded Failed with reason Forbidden and never run (defence in depth behind admission).
	Forbidden []*corev1.Pod
	// InFlight reports whether an exec for the key is running in this process right now.
	InFlight func(RecordKey) bool
	// Attempts are finished attempts not yet persisted.
	Attempts []Attempt
	Now      time.Time
	MaxWait  time.Duration
	// Capacity is how many execs may start in this pass (the executor's free slots); < 0 means no limit.
	Capacity int
	// RecordOutput keeps output tails in records.
	RecordOutput bool
	// RunName is the run's namespace/name: the name the pod webhook's takeover mark names (SPEC §9).
	RunName string
	// RestoreMayCreatePods says the Restore may still create pods (it is New or InProgress, or finished
	// too recently for the cache to hold its last pods): no entry is done while it does (SPEC §13).
	RestoreMayCreatePods bool
}

// Start is a hook to execute once the records are persisted (with it marked Running).
type Start struct {
	Key       RecordKey
	Namespace string
	Pod       string
	Hook      hook.ExecHook
	// WaitDeadline is when the hook's wait budget ends (its waitTimeout, counted as for the container
	// wait): an exec refused before its command started may be sent again until then.
	WaitDeadline time.Time
}

// Transition is a record that reached a finished phase in this pass, for events and metrics.
type Transition struct {
	Record v1alpha1.HookRecord
}

// Output is the decision of one pass.
type Output struct {
	Records     []v1alpha1.HookRecord
	Starts      []Start
	AbortedBy   string
	Transitions []Transition
	// NextCheck is the earliest time something changes without an event (a wait deadline, a retry); zero
	// when nothing is scheduled.
	NextCheck time.Time
	// EntryEvents say which dependsOn entries were released or skipped for a dependency in this pass.
	EntryEvents []EntryEvent
	// WriteBacks are pods this run took over whose exec hooks have all ended: Velero's annotations go back
	// on them (SPEC §9). Until that is done the run is not over.
	WriteBacks []types.NamespacedName
}

// podState is what one pass knows about one pod.
type podState struct {
	pod       *corev1.Pod
	hooks     []hook.ExecHook
	initHooks []hook.InitHook
	// byKey maps a record key to the hook that declares it.
	byKey map[RecordKey]*hook.ExecHook
}

// Decide runs one pass. It never mutates its input.
func Decide(in Input) Output {
	d := &decider{in: in, now: metav1.NewTime(in.Now), abortedBy: in.AbortedBy, forbidden: map[types.UID]bool{}}
	d.index()
	d.resolve()
	d.applyAttempts()
	d.settlePods()
	d.trackInit()
	d.orderEntries()
	d.abort()
	d.chooseStarts()
	return Output{
		Records:     d.records,
		Starts:      d.starts,
		AbortedBy:   d.abortedBy,
		Transitions: d.transitions,
		NextCheck:   d.next,
		EntryEvents: d.entryEvents,
		WriteBacks:  d.writeBacks(),
	}
}

type decider struct {
	in          Input
	now         metav1.Time
	records     []v1alpha1.HookRecord
	pos         map[RecordKey]int
	pods        map[types.UID]*podState
	order       []types.UID
	abortedBy   string
	starts      []Start
	transitions []Transition
	next        time.Time
	running     map[types.UID]bool
	forbidden   map[types.UID]bool
	// held are the records waiting for a dependsOn entry in this pass.
	held        map[RecordKey]bool
	entryEvents []EntryEvent
}

func (d *decider) index() {
	d.records = make([]v1alpha1.HookRecord, len(d.in.Records))
	for i := range d.in.Records {
		d.records[i] = *d.in.Records[i].DeepCopy()
	}
	d.pos = make(map[RecordKey]int, len(d.records))
	for i := range d.records {
		d.pos[KeyOf(&d.records[i])] = i
	}
}

// resolve works out every pod's hooks and creates records for hooks seen for the first time.
func (d *decider) resolve() {
	pods := slices.Clone(d.in.Pods)
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	d.pods = make(map[types.UID]*podState, len(pods))
	rank := dependencyRank(d.in.Spec.Hooks.Resources)
	for _, pod := range pods {
		if d.in.FoldedPods[pod.UID] {
			continue
		}
		ps := &podState{pod: pod, hooks: hook.ResolveExecHooks(pod, d.in.Spec, d.in.MaxWait)}
		if rank != nil {
			// A container runs its hooks in declaration order, except that an entry comes after the entries
			// it depends on: declared the other way round, its held hook would hold them back forever.
			slices.SortStableFunc(ps.hooks, func(a, b hook.ExecHook) int {
				return cmp.Compare(rank[a.ResourceIndex], rank[b.ResourceIndex])
			})
		}
		d.pods[pod.UID] = ps
		d.order = append(d.order, pod.UID)
	}
	d.chooseSinglePods()
	for _, uid := range d.order {
		ps := d.pods[uid]
		pod := ps.pod
		ps.byKey = make(map[RecordKey]*hook.ExecHook, len(ps.hooks))
		for i := range ps.hooks {
			h := &ps.hooks[i]
			key := RecordKey{PodUID: pod.UID, Key: h.Key}
			ps.byKey[key] = h
			_, known := d.pos[key]
			if !known {
				d.addRecord(pod, key, v1alpha1.HookTypeExec)
			}
			r := d.rec(key)
			if !known && h.Source == v1alpha1.HookSourceAnnotation {
				if reason, msg := d.annotationOwner(pod); reason != "" {
					d.finish(r, v1alpha1.HookPhaseSkipped, reason, msg)
					continue
				}
			}
			if h.OnError == v1alpha1.HookErrorModeFail {
				r.OnError = h.OnError // also for records written before the field existed
			}
			if d.singlePod(h) {
				r.SinglePod = true
			}
			if !known && h.Problem != nil {
				d.finish(r, v1alpha1.HookPhaseFailed, h.Problem.Reason, h.Problem.Message)
				d.failed(r)
			}
		}
		d.resolveInit(ps)
	}
	for _, pod := range d.in.Forbidden {
		d.forbid(pod)
	}
}

// addRecord appends a Pending record for a hook seen for the first time.
func (d *decider) addRecord(pod *corev1.Pod, key RecordKey, typ v1alpha1.HookType) {
	d.pos[key] = len(d.records)
	d.records = append(d.records, v1alpha1.HookRecord{
		Pod: pod.Namespace + "/" + pod.Name, PodUID: pod.UID, Container: key.Container,
		Hook: key.Hook, ResourceIndex: key.ResourceIndex, Index: key.Index,
		Source: key.Source, Type: typ, Phase: v1alpha1.HookPhasePending,
	})
}

func (d *decider) rec(key RecordKey) *v1alpha1.HookRecord { return &d.records[d.pos[key]] }

func (d *decider) inFlight(key RecordKey) bool { return d.in.InFlight != nil && d.in.InFlight(key) }

// hookFor returns the declaration of a record's hook, nil when its pod is gone or it is no longer declared.
func (d *decider) hookFor(key RecordKey) *hook.ExecHook {
	if ps, ok := d.pods[key.PodUID]; ok {
		return ps.byKey[key]
	}
	return nil
}

// applyAttempts folds finished attempts into records, and turns records left Running by an earlier
// process (no exec in flight here, no attempt reported) into Interrupted attempts.
func (d *decider) applyAttempts() {
	reported := make(map[RecordKey]bool, len(d.in.Attempts))
	for _, a := range d.in.Attempts {
		i, ok := d.pos[a.Key]
		if !ok || d.records[i].Phase != v1alpha1.HookPhaseRunning {
			continue // stale: already applied in a persisted pass
		}
		reported[a.Key] = true
		d.applyAttempt(&d.records[i], a)
	}
	for i := range d.records {
		r := &d.records[i]
		if r.Type != v1alpha1.HookTypeExec || r.Phase != v1alpha1.HookPhaseRunning {
			continue
		}
		key := KeyOf(r)
		if reported[key] || d.inFlight(key) {
			continue
		}
		d.applyAttempt(r, Attempt{
			Key: key, Finished: d.in.Now, Reason: v1alpha1.ReasonInterrupted,
			Message: "the operator restarted while this command was in flight; it may have run partly, and was not sent again",
		})
	}
}

func retryable(reason v1alpha1.HookReason) bool {
	switch reason {
	case v1alpha1.ReasonNonZeroExit, v1alpha1.ReasonExecTimeout, v1alpha1.ReasonExecError, v1alpha1.ReasonInterrupted:
		return true
	}
	return false
}

func (d *decider) applyAttempt(r *v1alpha1.HookRecord, a Attempt) {
	if a.NotSent {
		// Nothing ran: undo the start. The later steps decide what the hook becomes now (Skipped when
		// the run was aborted, started again otherwise).
		r.Attempts--
		if r.Attempts <= 0 {
			r.Attempts, r.StartTime = 0, nil
		}
		r.Phase, r.Reason, r.Message = v1alpha1.HookPhasePending, "", ""
		return
	}
	r.ExitCode = a.ExitCode
	if d.in.RecordOutput {
		r.Stdout, r.Stderr = a.Stdout, a.Stderr
	} else {
		r.Stdout, r.Stderr = "", ""
	}
	if a.Reason == "" {
		r.Message = ""
		d.finishAt(r, v1alpha1.HookPhaseSucceeded, "", Truncate(a.Message, MaxMessage), a.Finished)
		return
	}
	h := d.hookFor(a.Key)
	retries := int32(0)
	delay := 5 * time.Second
	if h != nil {
		retries, delay = h.Retries, h.RetryDelay
	}
	if retryable(a.Reason) && r.Attempts <= retries && h != nil && d.abortedBy == "" {
		at := metav1.NewTime(a.Finished.Add(delay))
		r.Phase = v1alpha1.HookPhaseWaiting
		r.Reason = a.Reason
		r.NextAttemptTime = &at
		r.Message = Truncate(fmt.Sprintf("attempt %d of %d failed (%s): %s; retrying at %s",
			r.Attempts, retries+1, a.Reason, a.Message, at.UTC().Format(time.RFC3339)), MaxMessage)
		return
	}
	msg := a.Message
	if r.Attempts > 1 {
		msg = fmt.Sprintf("attempt %d of %d: %s", r.Attempts, r.Attempts, msg)
	}
	d.finishAt(r, v1alpha1.HookPhaseFailed, a.Reason, Truncate(msg, MaxMessage), a.Finished)
	d.failed(r)
}

// settlePods applies what happens to hooks that have not started: their pod went away or terminated,
// their wait expired, or they are no longer declared; and sets Pending/Waiting.
func (d *decider) settlePods() {
	present := make(map[types.UID]bool, len(d.in.Pods))
	for _, p := range d.in.Pods {
		present[p.UID] = true
	}
	for i := range d.records {
		r := &d.records[i]
		if r.Type != v1alpha1.HookTypeExec || r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning {
			continue
		}
		key := KeyOf(r)
		if !present[r.PodUID] && !d.in.FoldedPods[r.PodUID] {
			d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonPodDeleted,
				fmt.Sprintf("pod %s was deleted before the hook ran", r.Pod))
			d.failed(r)
			continue
		}
		ps := d.pods[r.PodUID]
		if ps == nil {
			continue
		}
		h := ps.byKey[key]
		if h == nil {
			d.finish(r, v1alpha1.HookPhaseSkipped, v1alpha1.ReasonHookRemoved,
				"the hook is no longer declared by the run's spec or the pod's annotations")
			continue
		}
		pod := ps.pod
		switch {
		case pod.DeletionTimestamp != nil:
			d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonPodDeleted,
				fmt.Sprintf("pod %s is being deleted; the hook was not executed", r.Pod))
			d.failed(r)
			continue
		case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
			d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonPodTerminated,
				fmt.Sprintf("pod %s reached phase %s before the hook ran", r.Pod, pod.Status.Phase))
			d.failed(r)
			continue
		}
		// A hook never attempted waits from when its pod was first seen (Velero's rule); a hook waiting to
		// be retried gets a fresh wait from when its retry became due.
		start := d.waitStart(pod)
		if r.Attempts > 0 && r.NextAttemptTime != nil {
			start = r.NextAttemptTime.Time
		}
		deadline := start.Add(h.WaitTimeout)
		if !d.in.Now.Before(deadline) && r.Reason == v1alpha1.ReasonWaitingForDependency {
			d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonWaitTimeout, fmt.Sprintf(
				"its dependencies were not done within the wait timeout of %s (counted from %s); the hook was not executed (%s)",
				h.WaitTimeout, start.UTC().Format(time.RFC3339), r.Message))
			d.failed(r)
			continue
		}
		if !d.in.Now.Before(deadline) {
			d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonWaitTimeout, fmt.Sprintf(
				"container %s was not %s, or earlier hooks of the pod had not finished, within the wait timeout of %s (counted from %s); the hook was not executed",
				h.Container, upWord(hook.ContainerWaitsForReady(ps.hooks, h.Container)), h.WaitTimeout,
				start.UTC().Format(time.RFC3339)))
			d.failed(r)
			continue
		}
		d.schedule(deadline)
	}
}

func upWord(ready bool) string {
	if ready {
		return "Ready"
	}
	return "Running"
}

// waitStart is when a pod's waits begin: the later of the run's start and the pod's creation. Both are
// stored to the second, so the start is rounded up to the next second: a wait may end up to a second
// late, never early.
func (d *decider) waitStart(pod *corev1.Pod) time.Time {
	start := pod.CreationTimestamp.Time
	if d.in.RunStart.After(start) {
		start = d.in.RunStart
	}
	return start.Truncate(time.Second).Add(time.Second)
}

// failed notes that a hook ended Failed; under onError Fail that aborts the run. It reads the error mode
// from the record, so it works when the hook's pod, and with it the declaration, is gone.
func (d *decider) failed(r *v1alpha1.HookRecord) {
	if r.OnError != v1alpha1.HookErrorModeFail || d.abortedBy != "" {
		return
	}
	d.abortedBy = Truncate(fmt.Sprintf("%s: hook %s[%d.%d] in container %s failed with onError Fail",
		r.Pod, r.Hook, r.ResourceIndex, r.Index, r.Container), MaxMessage)
}

// abort skips every hook not started yet once a Fail hook has failed, in every pod of the run.
func (d *decider) abort() {
	if d.abortedBy == "" {
		return
	}
	for i := range d.records {
		r := &d.records[i]
		if r.Type != v1alpha1.HookTypeExec || r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning {
			continue
		}
		d.finish(r, v1alpha1.HookPhaseSkipped, v1alpha1.ReasonAbortedByFailPolicy,
			Truncate("not started: the run was aborted because "+d.abortedBy, MaxMessage))
	}
}

// chooseStarts picks at most one hook per idle pod, in pod order, within maxConcurrentPods and the
// executor's capacity; it marks them Running and sets every other waiting hook's phase and message.
func (d *decider) chooseStarts() {
	// A pod is busy while any of its records is Running, declared or not: never two hooks of one pod.
	d.running = make(map[types.UID]bool)
	for i := range d.records {
		if d.records[i].Phase == v1alpha1.HookPhaseRunning {
			d.running[d.records[i].PodUID] = true
		}
	}
	busyPods := 0
	for _, uid := range d.order {
		if d.running[uid] {
			busyPods++
		}
	}
	capacity := d.in.Capacity
	limit := int(d.in.Spec.MaxConcurrentPods)
	for _, uid := range d.order {
		ps := d.pods[uid]
		if d.running[uid] {
			d.markQueued(ps, "waiting for the pod's running hook to finish")
			continue
		}
		next := d.nextHook(ps)
		if next == nil {
			continue
		}
		switch {
		case capacity == 0:
			d.markQueued(ps, "waiting for a free exec slot")
			continue
		case limit > 0 && busyPods >= limit:
			d.markQueued(ps, fmt.Sprintf("waiting: %d pods already run hooks (maxConcurrentPods)", limit))
			continue
		}
		key := RecordKey{PodUID: uid, Key: next.Key}
		r := d.rec(key)
		// The same deadline settlePods holds the hook's wait to.
		waitFrom := d.waitStart(ps.pod)
		if r.Attempts > 0 && r.NextAttemptTime != nil {
			waitFrom = r.NextAttemptTime.Time
		}
		r.Phase = v1alpha1.HookPhaseRunning
		r.Reason = ""
		r.Attempts++
		if r.StartTime == nil {
			r.StartTime = d.now.DeepCopy()
		}
		r.NextAttemptTime = nil
		r.Message = ""
		d.starts = append(d.starts, Start{Key: key, Namespace: ps.pod.Namespace, Pod: ps.pod.Name, Hook: *next,
			WaitDeadline: waitFrom.Add(next.WaitTimeout)})
		busyPods++
		d.running[uid] = true
		if capacity > 0 {
			capacity--
		}
		d.markQueued(ps, "waiting for the pod's running hook to finish")
	}
}

// nextHook returns the hook to run next in an idle pod: among containers that are up, the one that came
// up first; within it, the first unfinished hook in declaration order, unless that hook waits for a
// retry. It also sets each waiting hook's phase: Waiting (container not up, or retry delay) or Pending.
func (d *decider) nextHook(ps *podState) *hook.ExecHook {
	order, byContainer := hook.GroupByContainer(ps.hooks)
	type candidate struct {
		h       *hook.ExecHook
		began   bool
		started time.Time
	}
	var cands []candidate
	for _, c := range order {
		ready := hook.ContainerWaitsForReady(ps.hooks, c)
		var first *hook.ExecHook
		for i := range byContainer[c] {
			h := &byContainer[c][i]
			r := d.rec(RecordKey{PodUID: ps.pod.UID, Key: h.Key})
			if r.Phase.IsFinished() {
				continue
			}
			first = h
			break
		}
		if first == nil {
			continue
		}
		if d.held[RecordKey{PodUID: ps.pod.UID, Key: first.Key}] {
			// Declaration order holds: the container's later hooks wait behind it; other containers go on.
			continue
		}
		if !hook.ContainerUp(ps.pod, c, ready) {
			for _, h := range byContainer[c] {
				r := d.rec(RecordKey{PodUID: ps.pod.UID, Key: h.Key})
				if !r.Phase.IsFinished() && r.NextAttemptTime == nil && !d.held[RecordKey{PodUID: ps.pod.UID, Key: h.Key}] {
					r.Phase = v1alpha1.HookPhaseWaiting
					r.Message = fmt.Sprintf("waiting for container %s to be %s", c, upWord(ready))
				}
			}
			continue
		}
		r := d.rec(RecordKey{PodUID: ps.pod.UID, Key: first.Key})
		if r.NextAttemptTime != nil && d.in.Now.Before(r.NextAttemptTime.Time) {
			d.schedule(r.NextAttemptTime.Time)
			continue
		}
		// A container whose hooks have begun is served to the end before another (Velero runs all hooks
		// of a container before the next); among fresh ones, the first to come up goes first.
		began := false
		for _, h := range byContainer[c] {
			if r := d.rec(RecordKey{PodUID: ps.pod.UID, Key: h.Key}); r.Attempts > 0 {
				began = true
			}
		}
		cands = append(cands, candidate{h: first, began: began, started: containerStarted(ps.pod, c)})
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.began != b.began {
			if a.began {
				return -1
			}
			return 1
		}
		return a.started.Compare(b.started)
	})
	return cands[0].h
}

// markQueued sets Pending on the pod's hooks that could run but wait their turn.
func (d *decider) markQueued(ps *podState, why string) {
	for _, h := range ps.hooks {
		r := d.rec(RecordKey{PodUID: ps.pod.UID, Key: h.Key})
		if r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning || r.NextAttemptTime != nil ||
			d.held[RecordKey{PodUID: ps.pod.UID, Key: h.Key}] {
			continue
		}
		if r.Phase == v1alpha1.HookPhaseWaiting && strings.HasPrefix(r.Message, "waiting for container") {
			continue
		}
		r.Phase = v1alpha1.HookPhasePending
		r.Message = why
	}
}

// containerStarted is when a container last started running, for serving containers in the order they
// came up; containers without a start time sort last.
func containerStarted(pod *corev1.Pod, name string) time.Time {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range list {
			if cs.Name == name && cs.State.Running != nil {
				return cs.State.Running.StartedAt.Time
			}
		}
	}
	return time.Unix(1<<40, 0)
}

func (d *decider) finish(r *v1alpha1.HookRecord, phase v1alpha1.HookPhase, reason v1alpha1.HookReason, msg string) {
	d.finishAt(r, phase, reason, msg, d.in.Now)
}

func (d *decider) finishAt(r *v1alpha1.HookRecord, phase v1alpha1.HookPhase, reason v1alpha1.HookReason, msg string, at time.Time) {
	t := metav1.NewTime(at)
	r.Phase = phase
	r.Reason = reason
	r.Message = Truncate(msg, MaxMessage)
	r.CompletionTime = &t
	r.NextAttemptTime = nil
	d.transitions = append(d.transitions, Transition{Record: *r})
}

func (d *decider) schedule(t time.Time) {
	if d.next.IsZero() || t.Before(d.next) {
		d.next = t
	}
}

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
