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
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
