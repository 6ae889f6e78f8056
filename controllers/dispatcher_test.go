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
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/plan"
)

func TestElide(t *testing.T) {
	long := "exec in ns/pod container \"main\": cmd start: /bin/sh -c " + strings.Repeat("日x", 5000) + ": argument list too long"
	tests := map[string]struct {
		s          string
		n          int
		want       string
		wantPrefix string
		wantSuffix string
	}{
		"short untouched":       {s: "abc", n: 10, want: "abc"},
		"exactly n untouched":   {s: "abcde", n: 5, want: "abcde"},
		"head and tail kept":    {s: "0123456789abcdefghij", n: 11, want: "012 … hij"},
		"cause survives a bulk": {s: long, n: 1024, wantPrefix: "exec in ns/pod container", wantSuffix: ": argument list too long"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := elide(tc.s, tc.n)
			if len(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("elide gave %d bytes (valid UTF-8: %t), want at most %d", len(got), utf8.ValidString(got), tc.n)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("elide(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if !strings.HasPrefix(got, tc.wantPrefix) || !strings.HasSuffix(got, tc.wantSuffix) {
				t.Errorf("elide kept %.80q … %.80q", got, got[max(len(got)-80, 0):])
			}
		})
	}
}

// The exec queue: at most streams commands run at once; dispatched hooks beyond that wait in order, and
// a hook taken off the queue comes back NotSent, never sent.
func TestDispatcherQueue(t *testing.T) {
	fake := &exec.Fake{}
	d := newDispatcher(fake, clock.RealClock{}, 1, 2)
	run := &v1alpha1.RestoreHookRun{}
	run.Name, run.Namespace, run.UID = "r", "ns", "uid-r"
	var releases []func()
	for i := range 3 {
		releases = append(releases, fake.Block(exec.Key("ns", fmt.Sprintf("p%d", i), "c", "true")))
	}
	release := func() {
		for _, r := range releases {
			r()
		}
	}
	defer release()
	if got := d.free(); got != 3 {
		t.Fatalf("free = %d before any start, want streams + queue = 3", got)
	}
	for i := range 3 {
		s := plan.Start{Namespace: "ns", Pod: fmt.Sprintf("p%d", i),
			Key:  plan.RecordKey{PodUID: types.UID(fmt.Sprintf("uid-p%d", i))},
			Hook: hook.ExecHook{Key: hook.Key{Container: "c"}, Command: []string{"true"}, ExecTimeout: time.Minute}}
		d.start(run, s, false)
	}
	waitFor(t, "the first command to be sent", func() bool { return len(fake.Calls()) == 1 })
	if got := d.queued(run.UID); got != 2 {
		t.Errorf("queued = %d, want 2 behind the one running", got)
	}
	if got := d.free(); got != 0 {
		t.Errorf("free = %d with streams and queue full, want 0", got)
	}

	d.unqueue(run.UID)
	waitFor(t, "the queued hooks to come back", func() bool { return len(d.attempts(run.UID)) == 2 })
	sentPod := fake.Calls()[0].Pod
	for _, a := range d.attempts(run.UID) {
		if !a.NotSent || string(a.Key.PodUID) == "uid-"+sentPod {
			t.Errorf("attempt %+v, want NotSent for a queued hook", a)
		}
	}
	release()
	waitFor(t, "the running hook to finish", func() bool { return len(d.attempts(run.UID)) == 3 })
	for _, a := range d.attempts(run.UID) {
		if string(a.Key.PodUID) == "uid-"+sentPod && (a.NotSent || a.Reason != "") {
			t.Errorf("the hook already sent: %+v, want it run to the end (success)", a)
		}
	}
	if got := len(fake.Calls()); got != 1 {
		t.Errorf("%d commands sent, want only the one that had a stream", got)
	}
	if d.busy(run.UID) || d.free() != 3 {
		t.Errorf("busy %v free %d after everything returned, want idle with 3 free", d.busy(run.UID), d.free())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failed onError Fail hook holds back its run's queued hooks until the reconciler has decided whether
// the run aborts; resume sends them.
func TestDispatcherPausesAfterAFailPolicyFailure(t *testing.T) {
	fake := &exec.Fake{Handler: func(context.Context, exec.Request) exec.Result { return exec.ExitResult(1) }}
	d := newDispatcher(fake, clock.RealClock{}, 1, 2)
	run := &v1alpha1.RestoreHookRun{}
	run.Name, run.Namespace, run.UID = "r", "ns", "uid-r"
	for i := range 3 {
		d.start(run, plan.Start{Namespace: "ns", Pod: fmt.Sprintf("p%d", i),
			Key: plan.RecordKey{PodUID: types.UID(fmt.Sprintf("uid-p%d", i))},
			Hook: hook.ExecHook{Key: hook.Key{Container: "c"}, Command: []string{"false"}, ExecTimeout: time.Minute,
				OnError: v1alpha1.HookErrorModeFail}}, false)
	}
	waitFor(t, "the first failure", func() bool { return len(d.attempts(run.UID)) == 1 })
	time.Sleep(100 * time.Millisecond)
	if got := len(fake.Calls()); got != 1 {
		t.Fatalf("%d commands sent after an onError Fail failure, want the queue held back", got)
	}
	d.resume(run.UID)
	waitFor(t, "the queued hooks to run after resume", func() bool { return len(fake.Calls()) >= 2 })
}

// refusedStart is a dispatcher test's start of one hook on pod in namespace ns, with a wait budget.
func refusedStart(pod string, budget time.Duration) plan.Start {
	return plan.Start{Namespace: "ns", Pod: pod, Key: plan.RecordKey{PodUID: types.UID("uid-" + pod)},
		Hook: hook.ExecHook{Key: hook.Key{Container: "c"}, Command: []string{"true"}, ExecTimeout: time.Minute,
			WaitTimeout: budget},
		WaitDeadline: time.Now().Add(budget)}
}

func refused(cause string, status int, transient bool, retryAfter time.Duration) exec.Result {
	return exec.RefusedResult(exec.Refusal{Cause: cause, StatusCode: status, Transient: transient, RetryAfter: retryAfter},
		fmt.Errorf("exec in ns/p container \"c\": %s", cause))
}

// fastBackoff keeps the tests quick: 1ms doubling to 20ms, no jitter.
var fastBackoff = resendBackoff{base: time.Millisecond, cap: 20 * time.Millisecond,
	jitter: func(time.Duration) time.Duration { return 0 }}

// An exec refused before its command started is sent again, without counting as an attempt, and the
// attempt says how it went; only a failure that may have started the command is an ExecError, sent
// once.
func TestDispatcherResendsExecsRefusedBeforeStart(t *testing.T) {
	mayHaveStarted := exec.ErrorResult(errors.New("next reader: read tcp: connection reset by peer"))
	tests := map[string]struct {
		results     []exec.Result
		budget      time.Duration
		wantCalls   int // 0: at least 2
		wantReason  v1alpha1.HookReason
		wantMessage string // prefix
		wantExit    *int32
	}{
		"refused twice, then run": {
			results:     []exec.Result{refused("429", 429, true, 0), refused("connection reset", 0, true, 0), exec.ExitResult(0)},
			budget:      time.Minute,
			wantCalls:   3,
			wantMessage: "command exited 0; sent 3 times: refused before start (429, connection reset)",
			wantExit:    ptr(0),
		},
		"refused, then a non-zero exit": {
			results:     []exec.Result{refused("503", 503, true, 0), exec.ExitResult(3)},
			budget:      time.Minute,
			wantCalls:   2,
			wantReason:  v1alpha1.ReasonNonZeroExit,
			wantMessage: "command terminated with exit code 3; sent 2 times: refused before start (503)",
			wantExit:    ptr(3),
		},
		"refused, then a stream cut part-way: ExecError, not sent again": {
			results:     []exec.Result{refused("502", 502, true, 0), mayHaveStarted, exec.ExitResult(0)},
			budget:      time.Minute,
			wantCalls:   2,
			wantReason:  v1alpha1.ReasonExecError,
			wantMessage: "next reader: read tcp: connection reset by peer; sent 2 times: refused before start (502)",
		},
		"a stream cut part-way is sent once": {
			results:     []exec.Result{mayHaveStarted, exec.ExitResult(0)},
			budget:      time.Minute,
			wantCalls:   1,
			wantReason:  v1alpha1.ReasonExecError,
			wantMessage: "next reader: read tcp: connection reset by peer",
		},
		"refused for good (404) is not sent again": {
			results:     []exec.Result{refused("404", 404, false, 0), exec.ExitResult(0)},
			budget:      time.Minute,
			wantCalls:   1,
			wantReason:  v1alpha1.ReasonExecError,
			wantMessage: "refused before start (404): exec in ns/p",
		},
		"refused until the wait budget ran out: WaitTimeout, not executed": {
			results:     []exec.Result{refused("503", 503, true, 0)},
			budget:      150 * time.Millisecond,
			wantReason:  v1alpha1.ReasonWaitTimeout,
			wantMessage: "sent ",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fake := &exec.Fake{}
			fake.SetResults(exec.Key("ns", "p", "c", "true"), tc.results...)
			d := newDispatcher(fake, clock.RealClock{}, 1, 1)
			d.backoff = fastBackoff
			run := &v1alpha1.RestoreHookRun{}
			run.Name, run.Namespace, run.UID = "r", "ns", "uid-r"
			d.start(run, refusedStart("p", tc.budget), false)
			waitFor(t, "the attempt", func() bool { return len(d.attempts(run.UID)) == 1 })
			a := d.attempts(run.UID)[0]
			calls := len(fake.Calls())
			if (tc.wantCalls > 0 && calls != tc.wantCalls) || (tc.wantCalls == 0 && calls < 2) {
				t.Errorf("%d sends, want %d (0: at least 2)", calls, tc.wantCalls)
			}
			if a.Reason != tc.wantReason || a.NotSent || !strings.HasPrefix(a.Message, tc.wantMessage) {
				t.Errorf("attempt reason %q NotSent %v message %q; want reason %q, message starting %q",
					a.Reason, a.NotSent, a.Message, tc.wantReason, tc.wantMessage)
			}
			if (a.ExitCode == nil) != (tc.wantExit == nil) || (a.ExitCode != nil && *a.ExitCode != *tc.wantExit) {
				t.Errorf("exit code %v, want %v", a.ExitCode, tc.wantExit)
			}
			if tc.wantReason == v1alpha1.ReasonWaitTimeout {
				want := fmt.Sprintf("sent %d times: refused before start (503); the wait timeout of 150ms ran out", calls)
				if !strings.HasPrefix(a.Message, want) || !strings.Contains(a.Message, "not executed") {
					t.Errorf("message %q, want it to start %q and say the hook was not executed", a.Message, want)
				}
			}
			if d.busy(run.UID) || d.free() != 2 {
				t.Errorf("busy %v free %d after the attempt, want idle with every slot free", d.busy(run.UID), d.free())
			}
		})
	}
}

func ptr(i int32) *int32 { return &i }

// A Retry-After is waited for; meanwhile the refused hook's stream serves other hooks.
func TestDispatcherHonoursRetryAfterAndFreesTheStream(t *testing.T) {
	var mu sync.Mutex
	var sends []string
	var times []time.Time
	fake := &exec.Fake{Handler: func(_ context.Context, req exec.Request) exec.Result {
		mu.Lock()
		defer mu.Unlock()
		sends = append(sends, req.Pod)
		times = append(times, time.Now())
		if req.Pod == "a" && len(sends) == 1 {
			return refused("429", 429, true, 400*time.Millisecond)
		}
		return exec.ExitResult(0)
	}}
	d := newDispatcher(fake, clock.RealClock{}, 1, 1) // one stream
	d.backoff = fastBackoff
	run := &v1alpha1.RestoreHookRun{}
	run.Name, run.Namespace, run.UID = "r", "ns", "uid-r"
	d.start(run, refusedStart("a", time.Minute), false)
	waitFor(t, "a's first send", func() bool { return len(fake.Calls()) == 1 })
	d.start(run, refusedStart("b", time.Minute), false)
	waitFor(t, "both attempts", func() bool { return len(d.attempts(run.UID)) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"a", "b", "a"}, sends); diff != "" {
		t.Errorf("sends (-want +got):\n%s", diff)
	}
	if gap := times[2].Sub(times[0]); gap < 400*time.Millisecond {
		t.Errorf("a was sent again %s after its 429, want at least its Retry-After of 400ms", gap)
	}
	for _, a := range d.attempts(run.UID) {
		if a.Reason != "" || a.NotSent {
			t.Errorf("attempt %+v, want success", a)
		}
	}
}

// A run that aborts while a refused hook backs off, or while a send that is then refused is out, takes
// the hook back: it comes back NotSent and is not sent again.
func TestDispatcherUnqueueTakesBackARefusedHook(t *testing.T) {
	t.Run("during the backoff", func(t *testing.T) {
		fake := &exec.Fake{}
		fake.SetResults(exec.Key("ns", "p", "c", "true"), refused("429", 429, true, time.Hour))
		d := newDispatcher(fake, clock.RealClock{}, 1, 1)
		run := &v1alpha1.RestoreHookRun{}
		run.Name, run.Namespace, run.UID = "r", "ns", "uid-r"
		d.start(run, refusedStart("p", 2*time.Hour), false)
		waitFor(t, "the first send", func() bool { return len(fake.Calls()) == 1 })
		waitFor(t, "the hook to be queued again", func() bool { return d.queued(run.UID) == 1 })
		d.unqueue(run.UID)
		waitFor(t, "the attempt", func() bool { return len(d.attempts(run.UID)) == 1 })
		if a := d.attempts(run.UID)[0]; !a.NotSent {
			t.Errorf("attempt %+v, want NotSent", a)
		}
		if got := len(fake.Calls()); got != 1 {
			t.Errorf("%d sends, want 1", got)
		}
	})
	t.Run("while a send is out", func(t *testing.T) {
		fake := &exec.Fake{}
		key := exec.Key("ns", "p", "c", "true")
		fake.SetResults(key, refused("503", 503, true, 0), exec.ExitResult(0))
		release := fake.Block(key)
		d := newDispatcher(fake, clock.RealClock{}, 1, 1)
		d.backoff = fastBackoff
		run := &v1alpha1.RestoreHookRun{}
		run.Name, run.Namespace, run.UID = "r", "ns", "uid-r"
		d.start(run, refusedStart("p", time.Minute), false)
		waitFor(t, "the send", func() bool { return len(fake.Calls()) == 1 })
		d.unqueue(run.UID) // the send is out: it is not cancelled
		release()
		waitFor(t, "the attempt", func() bool { return len(d.attempts(run.UID)) == 1 })
		if a := d.attempts(run.UID)[0]; !a.NotSent {
			t.Errorf("attempt %+v, want NotSent (refused, and the run took it back)", a)
		}
		time.Sleep(50 * time.Millisecond)
		if got := len(fake.Calls()); got != 1 {
			t.Errorf("%d sends, want 1", got)
		}
	})
}

func TestResendBackoff(t *testing.T) {
	b := resendBackoff{base: 200 * time.Millisecond, cap: 30 * time.Second,
		jitter: func(d time.Duration) time.Duration { return d - 1 }} // the largest jitter
	noJitter := b
	noJitter.jitter = func(time.Duration) time.Duration { return 0 }
	tests := map[string]struct {
		b          resendBackoff
		n          int
		retryAfter time.Duration
		want       time.Duration
	}{
		"first, least":        {b: noJitter, n: 1, want: 100 * time.Millisecond},
		"first, most":         {b: b, n: 1, want: 200*time.Millisecond - 1},
		"doubles":             {b: noJitter, n: 4, want: 800 * time.Millisecond},
		"capped":              {b: b, n: 12, want: 30*time.Second - 1},
		"no overflow":         {b: noJitter, n: 200, want: 15 * time.Second},
		"Retry-After is kept": {b: b, n: 1, retryAfter: 7 * time.Second, want: 7 * time.Second},
		"backoff over Retry-After": {b: noJitter, n: 10, retryAfter: time.Second,
			want: 15 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.b.next(tc.n, tc.retryAfter); got != tc.want {
				t.Errorf("next(%d, %s) = %s, want %s", tc.n, tc.retryAfter, got, tc.want)
			}
		})
	}
}
