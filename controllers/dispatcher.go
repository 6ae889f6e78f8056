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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/plan"
)

// dispatcher runs exec hooks off the reconcile workers. A dispatched hook has a goroutine while it holds
// a stream, that is while its command is sent and runs (never for a wait: waits are deadlines the
// reconciler requeues for). At most streams commands run at once across all runs; up to queue more
// hooks may be dispatched, recorded Running, and wait in order for a stream, as entries of a queue. The queue is what lets one status write start hundreds of hooks: a
// write of a large run's status costs the API server as much as dozens of execs, so starting hooks
// only as streams free up would spend more on writes than on the hooks. A finished exec is kept as an
// Attempt until a status write has persisted it, and wakes its run's reconcile through the notify
// channel. A queued hook the run no longer wants (its run aborted under onError Fail, or its Restore
// was deleted) is handed back unsent, as a NotSent attempt.
//
// An exec refused before its command could start (exec.Result.Refused: the API server or the network
// refused it before the protocol upgrade) ran nothing, so the dispatcher sends it again, after a capped
// exponential backoff with jitter or the server's Retry-After, until the hook's wait budget ends. This
// neither counts as an attempt nor weakens at most once: the record stays Running throughout, so an
// operator restart in between still finds it Running and records it Interrupted. While it backs off the
// hook gives its stream back and is queued again: a run that aborts takes it back NotSent.
type dispatcher struct {
	exec     exec.Executor
	clock    clock.PassiveClock
	backoff  resendBackoff
	capacity int // hooks dispatched at once (streams + queue); <= 0: no limit
	streams  int // commands running at once; <= 0: no limit
	notify   chan event.GenericEvent

	mu       sync.Mutex
	running  int           // dispatched hooks: waiting, backing off or sending
	sending  int           // hooks holding a stream
	waiting  []*dispatched // hooks waiting for a stream, oldest first
	inflight map[types.UID]map[plan.RecordKey]*dispatched
	done     map[types.UID][]plan.Attempt
	// unsent are starts whose status write failed without saying whether it landed (a timeout, a
	// server error): their Running record may be persisted while their command was never sent.
	unsent map[types.UID]map[plan.RecordKey]unsentStart
	// paused holds back a run's waiting hooks after one of its onError Fail hooks failed, until the
	// reconciler has decided on it: resume, or unqueue when the run aborts.
	paused map[types.UID]bool
}

// unsentStart is a start held back by a failed status write, with the attempt its record would show.
type unsentStart struct {
	start        plan.Start
	attempts     int32
	recordOutput bool
}

// dispatched is a hook handed to the dispatcher. It has a goroutine only while it holds a stream: a
// thousand hooks waiting for a stream are a thousand small structs, not a thousand goroutine stacks.
type dispatched struct {
	run          types.UID
	wake         *v1alpha1.RestoreHookRun // the run's identity, for the notify channel
	start        plan.Start
	recordOutput bool
	// ctx is the exec's; it ends when the run is forgotten (errForgotten) or the hook finished.
	ctx    context.Context
	cancel context.CancelCauseFunc
	state  dispatchState
	// takenBack: unqueue found the hook sending; should that send be refused, it is not sent again.
	takenBack bool
	refused   refusals
	timer     *time.Timer // while backing off
}

type dispatchState int

const (
	stateWaiting    dispatchState = iota // for a stream
	stateBackingOff                      // refused before it started; waits to be sent again
	stateSending                         // holds a stream; its command may be running
	stateFinished
)

// errForgotten is why a dispatched hook's context ends early: the run was deleted, its attempts are
// dropped. It is a cancellation (errors.Is context.Canceled).
var errForgotten = fmt.Errorf("the run was deleted: %w", context.Canceled)

// newDispatcher runs at most streams commands at once, with up to queue more hooks waiting for a
// stream; streams <= 0 means no limit (and no queue).
func newDispatcher(e exec.Executor, c clock.PassiveClock, streams, queue int) *dispatcher {
	d := &dispatcher{
		exec: e, clock: c, capacity: -1, backoff: defaultResendBackoff,
		notify:   make(chan event.GenericEvent, 1024),
		inflight: map[types.UID]map[plan.RecordKey]*dispatched{},
		paused:   map[types.UID]bool{},
		done:     map[types.UID][]plan.Attempt{},
		unsent:   map[types.UID]map[plan.RecordKey]unsentStart{},
	}
	if streams > 0 {
		d.streams = streams
		d.capacity = streams + max(queue, 0)
	}
	return d
}

// holdUnsent remembers the starts of a pass whose status write failed: next holds the records the
// write carried.
func (d *dispatcher) holdUnsent(next *v1alpha1.RestoreHookRun, starts []plan.Start, recordOutput bool) {
	if len(starts) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unsent[next.UID] == nil {
		d.unsent[next.UID] = map[plan.RecordKey]unsentStart{}
	}
	for _, s := range starts {
		if rec := findRecord(next.Status.Hooks, s.Key); rec != nil {
			d.unsent[next.UID][s.Key] = unsentStart{start: s, attempts: rec.Attempts, recordOutput: recordOutput}
		}
	}
}

// sendLanded starts the held-back execs whose Running record the failed write did persist, as run
// (the state a pass decides from) shows: this process knows their command was never sent, so sending
// it now is the first send, not a second. Finished attempts of those hooks still waiting for an ack
// predate the held-back start and were applied by the same write; they are dropped.
func (d *dispatcher) sendLanded(run *v1alpha1.RestoreHookRun) {
	d.mu.Lock()
	held := d.unsent[run.UID]
	var send []unsentStart
	for key, u := range held {
		rec := findRecord(run.Status.Hooks, key)
		if rec == nil || rec.Phase != v1alpha1.HookPhaseRunning || rec.Attempts != u.attempts || d.inflight[run.UID][key] != nil {
			continue
		}
		send = append(send, u)
		delete(held, key)
		kept := d.done[run.UID][:0]
		for _, a := range d.done[run.UID] {
			if a.Key != key {
				kept = append(kept, a)
			}
		}
		d.done[run.UID] = kept
	}
	d.mu.Unlock()
	for _, u := range send {
		d.start(run, u.start, u.recordOutput)
	}
}

// dropUnsent forgets the held-back starts of a run once a status write succeeded: that write was
// checked against the latest resourceVersion, so any earlier write that landed was in the state it
// was decided from, and sendLanded has already sent what it persisted.
func (d *dispatcher) dropUnsent(run types.UID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.unsent, run)
}

// free returns how many execs may start now; -1 means no limit.
func (d *dispatcher) free() int {
	if d.capacity <= 0 {
		return -1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return max(d.capacity-d.running, 0)
}

// inFlight returns a predicate telling which of a run's hooks are executing in this process.
func (d *dispatcher) inFlight(run types.UID) func(plan.RecordKey) bool {
	d.mu.Lock()
	keys := make(map[plan.RecordKey]bool, len(d.inflight[run]))
	for k := range d.inflight[run] {
		keys[k] = true
	}
	d.mu.Unlock()
	return func(k plan.RecordKey) bool { return keys[k] }
}

// busy reports whether any exec of the run is in flight.
func (d *dispatcher) busy(run types.UID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.inflight[run]) > 0
}

// queued counts the run's dispatched hooks not sent yet: waiting for a stream, or backing off.
func (d *dispatcher) queued(run types.UID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, h := range d.inflight[run] {
		if h.state == stateWaiting || h.state == stateBackingOff {
			n++
		}
	}
	return n
}

// failing reports whether a finished attempt of the run not yet persisted failed.
func (d *dispatcher) failing(run types.UID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.done[run] {
		if a.Reason != "" {
			return true
		}
	}
	return false
}

// unqueue takes the run's hooks that wait for a stream off the queue: they come back as NotSent
// attempts. Hooks already sent run to the end.
func (d *dispatcher) unqueue(run types.UID) {
	d.mu.Lock()
	var wake *v1alpha1.RestoreHookRun
	for _, h := range d.inflight[run] {
		switch h.state {
		case stateWaiting, stateBackingOff:
			d.dropWaitingLocked(h)
			now := d.clock.Now()
			d.finishLocked(h, plan.Attempt{Key: h.start.Key, Started: now, Finished: now, NotSent: true})
			wake = h.wake
		case stateSending:
			h.takenBack = true
		}
	}
	d.resumeLocked(run)
	d.mu.Unlock()
	if wake != nil {
		d.notify <- event.GenericEvent{Object: wake}
	}
}

// resume lets the run's queued hooks be sent again after a failure that did not abort the run.
func (d *dispatcher) resume(run types.UID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.resumeLocked(run)
}

func (d *dispatcher) resumeLocked(run types.UID) {
	if d.paused[run] {
		delete(d.paused, run)
		d.pumpLocked()
	}
}

// attempts returns the run's finished attempts not yet acknowledged.
func (d *dispatcher) attempts(run types.UID) []plan.Attempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]plan.Attempt(nil), d.done[run]...)
}

// ack forgets attempts that a status write has persisted.
func (d *dispatcher) ack(run types.UID, persisted []plan.Attempt) {
	if len(persisted) == 0 {
		return
	}
	gone := make(map[plan.RecordKey]time.Time, len(persisted))
	for _, a := range persisted {
		gone[a.Key] = a.Finished
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := d.done[run][:0]
	for _, a := range d.done[run] {
		if t, ok := gone[a.Key]; ok && t.Equal(a.Finished) {
			continue
		}
		kept = append(kept, a)
	}
	if len(kept) == 0 {
		delete(d.done, run)
	} else {
		d.done[run] = kept
	}
}

// start dispatches a hook whose Running record is persisted: its command is sent once a stream is free.
func (d *dispatcher) start(run *v1alpha1.RestoreHookRun, s plan.Start, recordOutput bool) {
	ctx, cancel := context.WithCancelCause(context.Background())
	wake := &v1alpha1.RestoreHookRun{}
	wake.Name, wake.Namespace, wake.UID = run.Name, run.Namespace, run.UID
	h := &dispatched{run: run.UID, wake: wake, start: s, recordOutput: recordOutput, ctx: ctx, cancel: cancel}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inflight[run.UID] == nil {
		d.inflight[run.UID] = map[plan.RecordKey]*dispatched{}
	}
	d.inflight[run.UID][s.Key] = h
	d.running++
	d.enqueueLocked(h)
}

// enqueueLocked puts h at the end of the queue and hands out the streams that are free.
func (d *dispatcher) enqueueLocked(h *dispatched) {
	h.state, h.timer = stateWaiting, nil
	d.waiting = append(d.waiting, h)
	d.pumpLocked()
}

// pumpLocked gives each free stream to the oldest waiting hook whose run is not paused, and starts its
// send. Deciding under d.mu makes it one or the other for unqueue: a hook it finds waiting is never sent.
func (d *dispatcher) pumpLocked() {
	for d.streams <= 0 || d.sending < d.streams {
		i := slices.IndexFunc(d.waiting, func(h *dispatched) bool { return !d.paused[h.run] })
		if i < 0 {
			return
		}
		h := d.waiting[i]
		if i == 0 {
			d.waiting[0] = nil
			d.waiting = d.waiting[1:]
		} else {
			d.waiting = slices.Delete(d.waiting, i, i+1)
		}
		h.state = stateSending
		d.sending++
		go d.send(h)
	}
}

// dropWaitingLocked takes a hook that is not sending off the queue, or stops its backoff.
func (d *dispatcher) dropWaitingLocked(h *dispatched) {
	switch h.state {
	case stateWaiting:
		if i := slices.Index(d.waiting, h); i >= 0 {
			d.waiting = slices.Delete(d.waiting, i, i+1)
		}
	case stateBackingOff:
		h.timer.Stop()
	}
}

// finishLocked ends a dispatched hook with its attempt (dropped when its run was forgotten).
func (d *dispatcher) finishLocked(h *dispatched, a plan.Attempt) {
	if h.state == stateSending {
		d.sending--
	}
	h.state = stateFinished
	delete(d.inflight[h.run], h.start.Key)
	if len(d.inflight[h.run]) == 0 {
		delete(d.inflight, h.run)
	}
	d.running--
	if !errors.Is(context.Cause(h.ctx), errForgotten) {
		d.done[h.run] = append(d.done[h.run], a)
	}
	h.cancel(nil)
}

// send runs a dispatched hook's command on the stream it was given. A send refused before it started
// is sent again after a backoff, on a stream it waits for again, while its wait budget lasts; otherwise
// the attempt is recorded and the run woken.
func (d *dispatcher) send(h *dispatched) {
	s := h.start
	began := d.clock.Now()
	res := d.exec.Exec(h.ctx, exec.Request{
		Namespace: s.Namespace, Pod: s.Pod, Container: s.Hook.Container, Command: s.Hook.Command,
		Timeout: s.Hook.ExecTimeout, RecordOutput: h.recordOutput,
	})
	refusedForNow := res.Refused != nil && res.Refused.Transient && h.ctx.Err() == nil
	if refusedForNow {
		d.mu.Lock()
		h.refused.add(*res.Refused)
		wait := d.backoff.next(h.refused.count, res.Refused.RetryAfter)
		switch {
		case !h.takenBack && d.clock.Now().Add(wait).Before(s.WaitDeadline):
			// Queued again after the wait, so unqueue may take it back and a paused run holds it.
			d.sending--
			h.state = stateBackingOff
			h.timer = time.AfterFunc(wait, func() {
				d.mu.Lock()
				defer d.mu.Unlock()
				if h.state == stateBackingOff {
					d.enqueueLocked(h)
				}
			})
			d.pumpLocked()
			d.mu.Unlock()
			return
		case h.takenBack:
			// The run aborted while this send was out; it was refused, so nothing ran.
			now := d.clock.Now()
			d.finishLocked(h, plan.Attempt{Key: s.Key, Started: now, Finished: now, NotSent: true})
			d.pumpLocked()
			d.mu.Unlock()
			d.notify <- event.GenericEvent{Object: h.wake}
			return
		}
		d.mu.Unlock()
	}
	execDuration.Observe(res.Duration.Seconds())
	a := attemptFrom(s.Key, began, d.clock.Now(), res, s.Hook.ExecTimeout)
	if refusedForNow {
		// Refused until the wait budget ran out: the command never started, as when a container
		// never came up in time.
		a.Reason, a.ExitCode = v1alpha1.ReasonWaitTimeout, nil
		a.Message = elide(fmt.Sprintf("%s; the wait timeout of %s ran out (at %s), the hook was not executed: %v",
			h.refused, s.Hook.WaitTimeout, s.WaitDeadline.UTC().Format(time.RFC3339), res.Err), plan.MaxMessage)
	} else if h.refused.count > 0 {
		if res.Refused != nil {
			h.refused.add(*res.Refused) // refused for good this time: the command never started
		} else {
			h.refused.sentAgain = true
		}
		a.Message = elide(a.Message+"; "+h.refused.String(), plan.MaxMessage)
	}
	d.mu.Lock()
	if a.Reason != "" && s.Hook.OnError == v1alpha1.HookErrorModeFail {
		// The run may abort: send none of its queued hooks until the reconciler has decided. Paused
		// before the stream is handed on, so no queued hook of the run can take it.
		d.paused[h.run] = true
	}
	d.finishLocked(h, a)
	d.pumpLocked()
	d.mu.Unlock()
	d.notify <- event.GenericEvent{Object: h.wake}
}

// refusals tells what happened to the sends of one hook that were refused before they started.
type refusals struct {
	count     int
	causes    []string // distinct, in the order they first happened
	sentAgain bool     // a later send went through
}

func (r *refusals) add(ref exec.Refusal) {
	r.count++
	if !slices.Contains(r.causes, ref.Cause) {
		r.causes = append(r.causes, ref.Cause)
	}
}

// String is what the hook's record says: "sent 3 times: refused before start (429, connection reset)".
func (r refusals) String() string {
	sends := r.count
	if r.sentAgain {
		sends++
	}
	return fmt.Sprintf("sent %d times: refused before start (%s)", sends, strings.Join(r.causes, ", "))
}

// resendBackoff spaces the sends of an exec refused before it started: capped exponential backoff
// with jitter, so that the hooks a flaky API server refused together do not come back together; a
// Retry-After the server named is waited for at least.
type resendBackoff struct {
	base, cap time.Duration
	// jitter returns a random duration in [0, d).
	jitter func(d time.Duration) time.Duration
}

var defaultResendBackoff = resendBackoff{base: 200 * time.Millisecond, cap: 30 * time.Second,
	jitter: func(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d))) }}

// next is the wait before the send after the n-th refusal (n >= 1): half of base·2^(n-1), capped,
// plus a random part of the other half; never less than retryAfter.
func (b resendBackoff) next(n int, retryAfter time.Duration) time.Duration {
	d := b.cap
	if n-1 < 32 {
		d = min(b.base<<(n-1), b.cap)
	}
	if d > 1 {
		d = d/2 + b.jitter(d/2)
	}
	return max(d, retryAfter)
}

// forget cancels a deleted run's execs and drops its state.
func (d *dispatcher) forget(uid types.UID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range d.inflight[uid] {
		h.cancel(errForgotten)
		if h.state != stateSending {
			d.dropWaitingLocked(h)
			d.finishLocked(h, plan.Attempt{})
		}
	}
	delete(d.paused, uid)
	delete(d.done, uid)
	delete(d.unsent, uid)
	d.pumpLocked()
}

// attemptFrom turns an exec result into an attempt for the planner.
func attemptFrom(key plan.RecordKey, began, ended time.Time, res exec.Result, timeout time.Duration) plan.Attempt {
	a := plan.Attempt{Key: key, Started: began, Finished: ended, Reason: res.Reason(),
		Stdout: res.Stdout, Stderr: res.Stderr}
	if res.ExitCode >= 0 && !res.TimedOut {
		code := int32(res.ExitCode)
		a.ExitCode = &code
	}
	switch a.Reason {
	case "":
		a.Message = "command exited 0"
	case v1alpha1.ReasonExecTimeout:
		a.Message = "command did not finish within execTimeout " + timeout.String()
	default:
		if res.Err != nil {
			a.Message = elide(res.Err.Error(), plan.MaxMessage)
		}
	}
	return a
}

// elide keeps the start and the end of a message longer than n bytes: an error wrapped around a huge
// value (an argv the runtime refused to start) names its cause last, where cutting the tail would lose it.
func elide(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " … "
	keep := n - len(mark)
	head, start := keep/2, len(s)-(keep-keep/2)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return s[:head] + mark + s[start:]
}
