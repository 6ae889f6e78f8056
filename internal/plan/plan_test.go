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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// containerState is a container's status in a test pod.
type containerState struct {
	name    string
	running bool
	ready   bool
	started time.Time
}

func testPod(name string, containers []string, states ...containerState) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "img"})
	}
	for _, s := range states {
		cs := corev1.ContainerStatus{Name: s.name, Ready: s.ready}
		if s.running {
			started := s.started
			if started.IsZero() {
				started = t0
			}
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, cs)
	}
	return p
}

func running(name string) containerState { return containerState{name: name, running: true} }

func execHook(container string, cmd ...string) v1alpha1.RestoreResourceHook {
	return v1alpha1.RestoreResourceHook{Exec: &v1alpha1.ExecRestoreHook{Container: container, Command: cmd}}
}

func specWith(hooks ...v1alpha1.RestoreResourceHook) *v1alpha1.RestoreHookRunSpec {
	return &v1alpha1.RestoreHookRunSpec{
		RestoreRef: v1alpha1.RestoreReference{Name: "r1"},
		Hooks:      v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{{Name: "h", PostHooks: hooks}}},
	}
}

func input(spec *v1alpha1.RestoreHookRunSpec, pods ...*corev1.Pod) Input {
	return Input{Spec: spec, Pods: pods, RunStart: t0, Now: t0.Add(time.Second), MaxWait: time.Hour,
		Capacity: -1, RecordOutput: true}
}

// started lists "pod/container:index" for every hook a pass starts.
func started(out Output) []string {
	var s []string
	for _, st := range out.Starts {
		s = append(s, st.Pod+"/"+st.Hook.Container+":"+itoa(st.Hook.Index))
	}
	return s
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

// phases lists "pod/container:index=Phase(Reason)" for every record.
func phases(records []v1alpha1.HookRecord) []string {
	var s []string
	for _, r := range records {
		p := strings.TrimPrefix(r.Pod, "app/") + "/" + r.Container + ":" + itoa(r.Index) + "=" + string(r.Phase)
		if r.Reason != "" {
			p += "(" + string(r.Reason) + ")"
		}
		s = append(s, p)
	}
	return s
}

// pass runs Decide and then feeds its records into the next input, as a persisted pass would.
func pass(in Input) (Output, Input) {
	out := Decide(in)
	next := in
	next.Records = out.Records
	next.AbortedBy = out.AbortedBy
	next.Attempts = nil
	return out, next
}

func inFlight(keys ...RecordKey) func(RecordKey) bool {
	set := map[RecordKey]bool{}
	for _, k := range keys {
		set[k] = true
	}
	return func(k RecordKey) bool { return set[k] }
}

func TestGates(t *testing.T) {
	ready := func(h v1alpha1.RestoreResourceHook) v1alpha1.RestoreResourceHook {
		h.Exec.WaitForReady = ptr.To(true)
		return h
	}
	cases := map[string]struct {
		spec        *v1alpha1.RestoreHookRunSpec
		pod         *corev1.Pod
		wantStarted []string
		wantPhases  []string
	}{
		"container not running waits": {
			spec:       specWith(execHook("db", "a")),
			pod:        testPod("p", []string{"db"}, containerState{name: "db"}),
			wantPhases: []string{"p/db:0=Waiting"},
		},
		"no container status waits": {
			spec:       specWith(execHook("db", "a")),
			pod:        testPod("p", []string{"db"}),
			wantPhases: []string{"p/db:0=Waiting"},
		},
		"running container starts its first hook": {
			spec:        specWith(execHook("db", "a"), execHook("db", "b")),
			pod:         testPod("p", []string{"db"}, running("db")),
			wantStarted: []string{"p/db:0"},
			wantPhases:  []string{"p/db:0=Running", "p/db:1=Pending"},
		},
		"waitForReady waits for Ready even when Running": {
			spec:       specWith(ready(execHook("db", "a"))),
			pod:        testPod("p", []string{"db"}, running("db")),
			wantPhases: []string{"p/db:0=Waiting"},
		},
		"waitForReady on one hook gates every hook of that container": {
			spec:       specWith(execHook("db", "a"), ready(execHook("db", "b"))),
			pod:        testPod("p", []string{"db"}, running("db")),
			wantPhases: []string{"p/db:0=Waiting", "p/db:1=Waiting"},
		},
		"waitForReady is per container, not per pod": {
			spec:        specWith(ready(execHook("db", "a")), execHook("side", "b")),
			pod:         testPod("p", []string{"db", "side"}, running("db"), running("side")),
			wantStarted: []string{"p/side:1"},
			wantPhases:  []string{"p/db:0=Waiting", "p/side:1=Running"},
		},
		"ready container starts": {
			spec:        specWith(ready(execHook("db", "a"))),
			pod:         testPod("p", []string{"db"}, containerState{name: "db", running: true, ready: true}),
			wantStarted: []string{"p/db:0"},
			wantPhases:  []string{"p/db:0=Running"},
		},
		"container missing from the pod fails at once": {
			spec:       specWith(execHook("nope", "a")),
			pod:        testPod("p", []string{"db"}, running("db")),
			wantPhases: []string{"p/nope:0=Failed(ContainerNotFound)"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out := Decide(input(tc.spec, tc.pod))
			if diff := cmp.Diff(tc.wantStarted, started(out)); diff != "" {
				t.Errorf("started (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPhases, phases(out.Records)); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOrdering(t *testing.T) {
	t.Run("one hook at a time per pod, declaration order within a container", func(t *testing.T) {
		in := input(specWith(execHook("db", "a"), execHook("db", "b"), execHook("db", "c")),
			testPod("p", []string{"db"}, running("db")))
		var order []string
		for range 5 {
			out, next := pass(in)
			order = append(order, started(out)...)
			if len(out.Starts) > 1 {
				t.Fatalf("two hooks of one pod started in one pass: %v", started(out))
			}
			for _, s := range out.Starts {
				next.Attempts = append(next.Attempts, Attempt{Key: s.Key, Finished: in.Now})
			}
			in = next
		}
		if diff := cmp.Diff([]string{"p/db:0", "p/db:1", "p/db:2"}, order); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"p/db:0=Succeeded", "p/db:1=Succeeded", "p/db:2=Succeeded"}, phases(Decide(in).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})

	t.Run("containers are served in the order they came up", func(t *testing.T) {
		pod := testPod("p", []string{"first", "second"},
			containerState{name: "first", running: true, started: t0.Add(5 * time.Second)},
			containerState{name: "second", running: true, started: t0.Add(2 * time.Second)})
		in := input(specWith(execHook("first", "a"), execHook("second", "b"), execHook("first", "c")), pod)
		var order []string
		for range 5 {
			out, next := pass(in)
			order = append(order, started(out)...)
			for _, s := range out.Starts {
				next.Attempts = append(next.Attempts, Attempt{Key: s.Key, Finished: in.Now})
			}
			in = next
		}
		if diff := cmp.Diff([]string{"p/second:1", "p/first:0", "p/first:2"}, order); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
	})

	t.Run("a running hook blocks the pod's other containers", func(t *testing.T) {
		in := input(specWith(execHook("a", "x"), execHook("b", "y")),
			testPod("p", []string{"a", "b"}, running("a"), running("b")))
		out, next := pass(in)
		next.InFlight = inFlight(out.Starts[0].Key)
		out2 := Decide(next)
		if len(out2.Starts) != 0 {
			t.Fatalf("a second hook of the pod started while one is in flight: %v", started(out2))
		}
	})

	t.Run("pods run in parallel up to maxConcurrentPods", func(t *testing.T) {
		spec := specWith(execHook("db", "a"))
		spec.MaxConcurrentPods = 2
		in := input(spec, testPod("p1", []string{"db"}, running("db")), testPod("p2", []string{"db"}, running("db")),
			testPod("p3", []string{"db"}, running("db")))
		out, next := pass(in)
		if diff := cmp.Diff([]string{"p1/db:0", "p2/db:0"}, started(out)); diff != "" {
			t.Fatalf("started (-want +got):\n%s", diff)
		}
		next.InFlight = inFlight(out.Starts[0].Key, out.Starts[1].Key)
		if out2 := Decide(next); len(out2.Starts) != 0 {
			t.Fatalf("started beyond maxConcurrentPods: %v", started(out2))
		}
		next.InFlight = inFlight(out.Starts[1].Key)
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now}}
		if diff := cmp.Diff([]string{"p3/db:0"}, started(Decide(next))); diff != "" {
			t.Errorf("after one pod finished (-want +got):\n%s", diff)
		}
	})

	t.Run("no limit starts every idle pod", func(t *testing.T) {
		in := input(specWith(execHook("db", "a")), testPod("p1", []string{"db"}, running("db")),
			testPod("p2", []string{"db"}, running("db")), testPod("p3", []string{"db"}, running("db")))
		if got := len(Decide(in).Starts); got != 3 {
			t.Errorf("started %d pods, want 3", got)
		}
	})

	t.Run("executor capacity bounds starts", func(t *testing.T) {
		in := input(specWith(execHook("db", "a")), testPod("p1", []string{"db"}, running("db")),
			testPod("p2", []string{"db"}, running("db")))
		in.Capacity = 1
		if got := len(Decide(in).Starts); got != 1 {
			t.Errorf("started %d, want 1", got)
		}
		in.Capacity = 0
		if got := len(Decide(in).Starts); got != 0 {
			t.Errorf("started %d with no capacity", got)
		}
	})
}

func TestWaitTimeout(t *testing.T) {
	withWait := func(h v1alpha1.RestoreResourceHook, d time.Duration) v1alpha1.RestoreResourceHook {
		h.Exec.WaitTimeout = &metav1.Duration{Duration: d}
		return h
	}
	cases := map[string]struct {
		spec       *v1alpha1.RestoreHookRunSpec
		pod        *corev1.Pod
		now        time.Duration // after t0
		inFlight   int           // index of the record in flight from a first pass, -1 none
		wantPhases []string
		wantNext   time.Duration
	}{
		"container not up before the deadline: failed, not executed": {
			spec:       specWith(withWait(execHook("db", "a"), time.Minute)),
			pod:        testPod("p", []string{"db"}),
			now:        time.Minute + time.Second, // stored starts are rounded up to the next second
			inFlight:   -1,
			wantPhases: []string{"p/db:0=Failed(WaitTimeout)"},
		},
		"before the deadline it keeps waiting and schedules a check": {
			spec:       specWith(withWait(execHook("db", "a"), time.Minute)),
			pod:        testPod("p", []string{"db"}),
			now:        30 * time.Second,
			inFlight:   -1,
			wantPhases: []string{"p/db:0=Waiting"},
			wantNext:   time.Minute + time.Second,
		},
		"no waitTimeout falls back to maxWait": {
			spec:       specWith(execHook("db", "a")),
			pod:        testPod("p", []string{"db"}),
			now:        time.Hour + time.Second,
			inFlight:   -1,
			wantPhases: []string{"p/db:0=Failed(WaitTimeout)"},
		},
		"a hook expires while an earlier one of the same container runs": {
			spec:       specWith(execHook("db", "a"), withWait(execHook("db", "b"), time.Minute)),
			pod:        testPod("p", []string{"db"}, running("db")),
			now:        2 * time.Minute,
			inFlight:   0,
			wantPhases: []string{"p/db:0=Running", "p/db:1=Failed(WaitTimeout)"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := input(tc.spec, tc.pod)
			in.Now = t0
			if tc.inFlight >= 0 {
				out, next := pass(in)
				next.InFlight = inFlight(out.Starts[0].Key)
				in = next
			}
			in.Now = t0.Add(tc.now)
			out := Decide(in)
			if diff := cmp.Diff(tc.wantPhases, phases(out.Records)); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
			if len(out.Starts) != 0 {
				t.Errorf("an expired hook was started: %v", started(out))
			}
			if tc.wantNext != 0 && !out.NextCheck.Equal(t0.Add(tc.wantNext)) {
				t.Errorf("next check %v, want %v", out.NextCheck, t0.Add(tc.wantNext))
			}
		})
	}

	t.Run("a wait never ends early: timestamps stored to the second are rounded up", func(t *testing.T) {
		in := input(specWith(withWait(execHook("db", "a"), time.Minute)), testPod("p", []string{"db"}))
		in.RunStart = t0.Add(900 * time.Millisecond) // stored as t0
		in.Now = t0.Add(time.Minute + 950*time.Millisecond)
		if diff := cmp.Diff([]string{"p/db:0=Waiting"}, phases(Decide(in).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})

	t.Run("the wait counts from the run's start when the pod is older", func(t *testing.T) {
		in := input(specWith(withWait(execHook("db", "a"), time.Minute)), testPod("p", []string{"db"}))
		in.RunStart = t0.Add(10 * time.Minute)
		in.Now = t0.Add(10*time.Minute + 30*time.Second)
		if diff := cmp.Diff([]string{"p/db:0=Waiting"}, phases(Decide(in).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})
}

func TestPodEnds(t *testing.T) {
	spec := specWith(execHook("db", "a"), execHook("db", "b"))
	t.Run("pod deleted before its hooks ran", func(t *testing.T) {
		pod := testPod("p", []string{"db"})
		_, next := pass(input(spec, pod))
		next.Pods = nil
		if diff := cmp.Diff([]string{"p/db:0=Failed(PodDeleted)", "p/db:1=Failed(PodDeleted)"}, phases(Decide(next).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})
	t.Run("pod being deleted", func(t *testing.T) {
		pod := testPod("p", []string{"db"}, running("db"))
		pod.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
		if diff := cmp.Diff([]string{"p/db:0=Failed(PodDeleted)", "p/db:1=Failed(PodDeleted)"}, phases(Decide(input(spec, pod)).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})
	for _, phase := range []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed} {
		t.Run("pod "+string(phase), func(t *testing.T) {
			pod := testPod("p", []string{"db"})
			pod.Status.Phase = phase
			if diff := cmp.Diff([]string{"p/db:0=Failed(PodTerminated)", "p/db:1=Failed(PodTerminated)"}, phases(Decide(input(spec, pod)).Records)); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a hook in flight when its pod goes keeps Running until its attempt reports", func(t *testing.T) {
		pod := testPod("p", []string{"db"}, running("db"))
		out, next := pass(input(spec, pod))
		next.Pods = nil
		next.InFlight = inFlight(out.Starts[0].Key)
		if diff := cmp.Diff([]string{"p/db:0=Running", "p/db:1=Failed(PodDeleted)"}, phases(Decide(next).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})
}

func TestErrorModes(t *testing.T) {
	fail := func(h v1alpha1.RestoreResourceHook) v1alpha1.RestoreResourceHook {
		h.Exec.OnError = v1alpha1.HookErrorModeFail
		return h
	}
	twoPods := func(spec *v1alpha1.RestoreHookRunSpec) Input {
		a := testPod("a", []string{"db"}, running("db"))
		b := testPod("b", []string{"db"}) // not up yet
		return input(spec, a, b)
	}
	cases := map[string]struct {
		spec       *v1alpha1.RestoreHookRunSpec
		wantPhases []string
		wantAbort  bool
	}{
		"Continue: the failure is recorded and everything else goes on": {
			spec:       specWith(execHook("db", "a"), execHook("db", "b")),
			wantPhases: []string{"a/db:0=Failed(NonZeroExit)", "a/db:1=Running", "b/db:0=Waiting", "b/db:1=Waiting"},
		},
		"Fail: the pod's remaining hooks and every other pod's unstarted hooks are skipped": {
			spec: specWith(fail(execHook("db", "a")), execHook("db", "b")),
			wantPhases: []string{"a/db:0=Failed(NonZeroExit)", "a/db:1=Skipped(AbortedByFailPolicy)",
				"b/db:0=Skipped(AbortedByFailPolicy)", "b/db:1=Skipped(AbortedByFailPolicy)"},
			wantAbort: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, next := pass(twoPods(tc.spec))
			if diff := cmp.Diff([]string{"a/db:0"}, started(out)); diff != "" {
				t.Fatalf("started (-want +got):\n%s", diff)
			}
			next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, Reason: v1alpha1.ReasonNonZeroExit,
				ExitCode: ptr.To[int32](2), Message: "exit status 2"}}
			got := Decide(next)
			if diff := cmp.Diff(tc.wantPhases, phases(got.Records)); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
			if (got.AbortedBy != "") != tc.wantAbort {
				t.Errorf("abortedBy = %q, want abort %v", got.AbortedBy, tc.wantAbort)
			}
			if got.Records[0].ExitCode == nil || *got.Records[0].ExitCode != 2 {
				t.Errorf("exit code not recorded: %v", got.Records[0].ExitCode)
			}
		})
	}

	t.Run("Fail: hooks already executing finish and are recorded", func(t *testing.T) {
		spec := specWith(fail(execHook("db", "a")))
		in := input(spec, testPod("a", []string{"db"}, running("db")), testPod("b", []string{"db"}, running("db")))
		out, next := pass(in)
		if len(out.Starts) != 2 {
			t.Fatalf("want both pods started, got %v", started(out))
		}
		next.InFlight = inFlight(out.Starts[1].Key)
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, Reason: v1alpha1.ReasonNonZeroExit}}
		out2, next2 := pass(next)
		if diff := cmp.Diff([]string{"a/db:0=Failed(NonZeroExit)", "b/db:0=Running"}, phases(out2.Records)); diff != "" {
			t.Fatalf("phases (-want +got):\n%s", diff)
		}
		next2.InFlight = nil
		next2.Attempts = []Attempt{{Key: out.Starts[1].Key, Finished: next.Now}}
		if diff := cmp.Diff([]string{"a/db:0=Failed(NonZeroExit)", "b/db:0=Succeeded"}, phases(Decide(next2).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})

	// Issue 19 (2): a Fail hook whose pod is gone when the operator looks (deleted while it was down, or
	// vanished from the cache) aborts the run like one whose pod is seen terminating.
	t.Run("Fail: a pod deleted before its Fail hook ran aborts the run", func(t *testing.T) {
		spec := specWith(fail(execHook("db", "a")), execHook("db", "b"))
		a, b := testPod("a", []string{"db"}), testPod("b", []string{"db"}) // neither up yet
		_, next := pass(input(spec, a, b))
		next.Pods = []*corev1.Pod{b} // a is gone
		got := Decide(next)
		if diff := cmp.Diff([]string{"a/db:0=Failed(PodDeleted)", "a/db:1=Failed(PodDeleted)",
			"b/db:0=Skipped(AbortedByFailPolicy)", "b/db:1=Skipped(AbortedByFailPolicy)"}, phases(got.Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
		if got.AbortedBy == "" {
			t.Error("the run was not aborted")
		}
	})

	t.Run("Fail: a Fail hook that fails after its pod vanished aborts the run", func(t *testing.T) {
		spec := specWith(fail(execHook("db", "a")))
		a, b := testPod("a", []string{"db"}, running("db")), testPod("b", []string{"db"})
		out, next := pass(input(spec, a, b))
		if diff := cmp.Diff([]string{"a/db:0"}, started(out)); diff != "" {
			t.Fatalf("started (-want +got):\n%s", diff)
		}
		next.Pods = []*corev1.Pod{b}
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, Reason: v1alpha1.ReasonExecError,
			Message: "pods \"a\" not found"}}
		got := Decide(next)
		if diff := cmp.Diff([]string{"a/db:0=Failed(ExecError)", "b/db:0=Skipped(AbortedByFailPolicy)"}, phases(got.Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
		if want := "app/a: hook h[0.0] in container db failed with onError Fail"; got.AbortedBy != want {
			t.Errorf("abortedBy = %q, want %q", got.AbortedBy, want)
		}
	})

	t.Run("Fail: pods that appear after the abort are skipped too", func(t *testing.T) {
		in := input(specWith(execHook("db", "a")), testPod("late", []string{"db"}, running("db")))
		in.AbortedBy = "app/a: hook h failed"
		out := Decide(in)
		if diff := cmp.Diff([]string{"late/db:0=Skipped(AbortedByFailPolicy)"}, phases(out.Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
		if len(out.Starts) != 0 {
			t.Errorf("started after abort: %v", started(out))
		}
	})
}

func TestRetries(t *testing.T) {
	spec := specWith(execHook("db", "a"))
	spec.Hooks.Resources[0].PostHooks[0].Exec.Retries = ptr.To[int32](2)
	spec.Hooks.Resources[0].PostHooks[0].Exec.RetryDelay = &metav1.Duration{Duration: 5 * time.Second}
	in := input(spec, testPod("p", []string{"db"}, running("db")))

	fails := func(reason v1alpha1.HookReason) {
		out, next := pass(in)
		if len(out.Starts) != 1 {
			t.Fatalf("want one start, got %v (phases %v)", started(out), phases(out.Records))
		}
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, Reason: reason, Message: "boom"}}
		in = next
	}
	fails(v1alpha1.ReasonNonZeroExit)
	out, next := pass(in)
	r := out.Records[0]
	if r.Phase != v1alpha1.HookPhaseWaiting || r.Attempts != 1 || r.NextAttemptTime == nil {
		t.Fatalf("after attempt 1: phase %s attempts %d next %v", r.Phase, r.Attempts, r.NextAttemptTime)
	}
	if !r.NextAttemptTime.Time.Equal(in.Now.Add(5 * time.Second)) {
		t.Errorf("retry at %v, want now+5s", r.NextAttemptTime)
	}
	if len(out.Starts) != 0 {
		t.Fatalf("retried before retryDelay")
	}
	if !out.NextCheck.Equal(r.NextAttemptTime.Time) {
		t.Errorf("next check %v, want the retry time %v", out.NextCheck, r.NextAttemptTime)
	}
	in = next
	in.Now = in.Now.Add(5 * time.Second)
	fails(v1alpha1.ReasonExecTimeout)
	in.Now = in.Now.Add(5 * time.Second)
	fails(v1alpha1.ReasonExecError)
	final := Decide(in).Records[0]
	if final.Phase != v1alpha1.HookPhaseFailed || final.Reason != v1alpha1.ReasonExecError || final.Attempts != 3 {
		t.Errorf("final: phase %s reason %s attempts %d, want Failed ExecError 3", final.Phase, final.Reason, final.Attempts)
	}

	t.Run("failures that are not about the command are not retried", func(t *testing.T) {
		spec := specWith(execHook("nope", "a"))
		spec.Hooks.Resources[0].PostHooks[0].Exec.Retries = ptr.To[int32](3)
		got := Decide(input(spec, testPod("p", []string{"db"}, running("db")))).Records[0]
		if got.Phase != v1alpha1.HookPhaseFailed || got.Attempts != 0 {
			t.Errorf("ContainerNotFound: phase %s attempts %d", got.Phase, got.Attempts)
		}
	})
}

func TestAtMostOnce(t *testing.T) {
	spec := specWith(execHook("db", "a"), execHook("db", "b"))
	pod := testPod("p", []string{"db"}, running("db"))

	t.Run("a started hook is Running with one attempt before anything is sent", func(t *testing.T) {
		out := Decide(input(spec, pod))
		r := out.Records[0]
		if r.Phase != v1alpha1.HookPhaseRunning || r.Attempts != 1 || r.StartTime == nil {
			t.Errorf("record %+v", r)
		}
	})
	t.Run("a Running record with nothing in flight is Interrupted, never sent again", func(t *testing.T) {
		_, next := pass(input(spec, pod))
		next.InFlight = nil // a new process: nothing in flight
		out := Decide(next)
		if diff := cmp.Diff([]string{"p/db:0=Failed(Interrupted)", "p/db:1=Running"}, phases(out.Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
		for _, s := range out.Starts {
			if s.Hook.Index == 0 {
				t.Errorf("the interrupted hook was sent again")
			}
		}
	})
	t.Run("an interrupted hook is retried when retries allow", func(t *testing.T) {
		spec := specWith(execHook("db", "a"))
		spec.Hooks.Resources[0].PostHooks[0].Exec.Retries = ptr.To[int32](1)
		_, next := pass(input(spec, pod))
		out := Decide(next)
		if r := out.Records[0]; r.Phase != v1alpha1.HookPhaseWaiting || r.Reason != v1alpha1.ReasonInterrupted {
			t.Errorf("record %s %s, want Waiting Interrupted", r.Phase, r.Reason)
		}
	})
	t.Run("succeeded hooks are never re-run", func(t *testing.T) {
		in := input(spec, pod)
		out, next := pass(in)
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now}}
		_, next = pass(next)
		for range 3 {
			o, n := pass(next)
			for _, s := range o.Starts {
				if s.Hook.Index == 0 {
					t.Fatalf("succeeded hook started again")
				}
			}
			next = n
		}
	})
	t.Run("a stale attempt for a record no longer Running is ignored", func(t *testing.T) {
		out, next := pass(input(spec, pod))
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now}}
		_, next = pass(next)
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, Reason: v1alpha1.ReasonNonZeroExit}}
		if got := Decide(next).Records[0].Phase; got != v1alpha1.HookPhaseSucceeded {
			t.Errorf("phase %s, want Succeeded kept", got)
		}
	})
	t.Run("a hook handed back unsent is as if never started", func(t *testing.T) {
		out, next := pass(input(spec, pod))
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, NotSent: true}}
		got := Decide(next)
		r := got.Records[0]
		if r.Attempts != 1 || r.StartTime == nil || r.Phase != v1alpha1.HookPhaseRunning {
			t.Errorf("record %s attempts %d startTime %v, want it started afresh (Running, 1 attempt)", r.Phase, r.Attempts, r.StartTime)
		}
		if diff := cmp.Diff([]string{"p/db:0"}, started(got)); diff != "" {
			t.Errorf("started (-want +got):\n%s", diff)
		}
	})
	t.Run("a hook handed back unsent after an abort is Skipped, not Failed", func(t *testing.T) {
		out, next := pass(input(spec, pod))
		next.AbortedBy = "app/other: hook h failed"
		next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, NotSent: true}}
		got := Decide(next)
		if diff := cmp.Diff([]string{"p/db:0=Skipped(AbortedByFailPolicy)", "p/db:1=Skipped(AbortedByFailPolicy)"}, phases(got.Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
		if r := got.Records[0]; r.Attempts != 0 || r.StartTime != nil {
			t.Errorf("unsent hook keeps attempts %d startTime %v, want none", r.Attempts, r.StartTime)
		}
	})
	t.Run("folded pods are left alone", func(t *testing.T) {
		in := input(spec, pod)
		in.FoldedPods = map[types.UID]bool{pod.UID: true}
		out := Decide(in)
		if len(out.Records) != 0 || len(out.Starts) != 0 {
			t.Errorf("folded pod got records %v starts %v", phases(out.Records), started(out))
		}
	})
}

func TestOutput(t *testing.T) {
	spec := specWith(execHook("db", "a"))
	pod := testPod("p", []string{"db"}, running("db"))
	for name, record := range map[string]bool{"recordOutput true keeps tails": true, "recordOutput false keeps none": false} {
		t.Run(name, func(t *testing.T) {
			in := input(spec, pod)
			in.RecordOutput = record
			out, next := pass(in)
			next.Attempts = []Attempt{{Key: out.Starts[0].Key, Finished: next.Now, Stdout: "out", Stderr: "err",
				ExitCode: ptr.To[int32](0)}}
			r := Decide(next).Records[0]
			want := map[bool][2]string{true: {"out", "err"}, false: {"", ""}}[record]
			if r.Stdout != want[0] || r.Stderr != want[1] {
				t.Errorf("stdout %q stderr %q, want %q", r.Stdout, r.Stderr, want)
			}
			if r.Phase != v1alpha1.HookPhaseSucceeded || r.CompletionTime == nil {
				t.Errorf("phase %s completion %v", r.Phase, r.CompletionTime)
			}
		})
	}
}

func TestAnnotationXORSpec(t *testing.T) {
	spec := specWith(execHook("db", "spec-hook"))
	pod := testPod("p", []string{"db"}, running("db"))
	pod.Annotations, _ = hook.TakeOver(map[string]string{hook.ExecCommandAnnotation: `["/bin/annotated"]`}, "velero/run")
	in := input(spec, pod)
	in.RunName = "velero/run"
	out := Decide(in)
	if len(out.Records) != 1 || out.Records[0].Source != v1alpha1.HookSourceAnnotation {
		t.Fatalf("want only the annotation hook, got %+v", out.Records)
	}
	if diff := cmp.Diff([]string{"/bin/annotated"}, out.Starts[0].Hook.Command); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
	out = Decide(input(spec, pod))
	if len(out.Records) != 1 || out.Records[0].Source != v1alpha1.HookSourceSpec {
		t.Fatalf("podAnnotations Ignore: want only the spec hook, got %+v", out.Records)
	}
}

func TestTruncate(t *testing.T) {
	cases := map[string]struct {
		in   string
		n    int
		want string
	}{
		"short":            {in: "abc", n: 5, want: "abc"},
		"exact":            {in: "abcde", n: 5, want: "abcde"},
		"cut":              {in: "abcdefgh", n: 6, want: "abc…"},
		"rune at the edge": {in: "ééééé", n: 7, want: "éé…"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Truncate(tc.in, tc.n)
			if got != tc.want || len(got) > tc.n {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestContainerStickiness(t *testing.T) {
	// b came up (and its first hook ran) while a was not yet Ready; when a becomes Ready, b's remaining
	// hooks still run first: a container's hooks complete before the next container's.
	ready := func(h v1alpha1.RestoreResourceHook) v1alpha1.RestoreResourceHook {
		h.Exec.WaitForReady = ptr.To(true)
		return h
	}
	spec := specWith(ready(execHook("a", "a1")), ready(execHook("a", "a2")), execHook("b", "b1"), execHook("b", "b2"))
	pod := testPod("p", []string{"a", "b"},
		containerState{name: "a", running: true, started: t0},
		containerState{name: "b", running: true, started: t0.Add(time.Second)})
	in := input(spec, pod)
	var order []string
	for i := range 6 {
		if i == 1 {
			pod.Status.ContainerStatuses[0].Ready = true // a becomes Ready after b1 started
		}
		out, next := pass(in)
		for _, s := range out.Starts {
			order = append(order, s.Hook.Command[0])
			next.Attempts = append(next.Attempts, Attempt{Key: s.Key, Finished: in.Now})
		}
		in = next
	}
	if diff := cmp.Diff([]string{"b1", "b2", "a1", "a2"}, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// A start carries the end of the hook's wait budget, counted as for its container wait: from when the
// pod was first seen, or from when a retry became due. The dispatcher sends an exec refused before
// its command started again until then.
func TestStartsCarryTheWaitDeadline(t *testing.T) {
	h := execHook("db", "a")
	h.Exec.WaitTimeout = &metav1.Duration{Duration: 5 * time.Minute}
	h.Exec.Retries = ptr.To(int32(1))
	h.Exec.RetryDelay = &metav1.Duration{Duration: 10 * time.Second}
	in := input(specWith(h), testPod("p", []string{"db"}, running("db")))
	out, next := pass(in)
	if len(out.Starts) != 1 {
		t.Fatalf("starts %v, want the hook", started(out))
	}
	// The pod was created at t0, the run started at t0: waits count from t0 rounded up to the second.
	if want := t0.Add(time.Second + 5*time.Minute); !out.Starts[0].WaitDeadline.Equal(want) {
		t.Errorf("first start's WaitDeadline = %s, want %s", out.Starts[0].WaitDeadline, want)
	}

	failedAt := t0.Add(20 * time.Minute)
	next.Now = failedAt
	next.Attempts = []Attempt{{Key: out.Starts[0].Key, Started: t0, Finished: failedAt,
		Reason: v1alpha1.ReasonNonZeroExit, ExitCode: ptr.To(int32(1)), Message: "exit 1"}}
	out, next = pass(next)
	if len(out.Starts) != 0 || phases(out.Records)[0] != "p/db:0=Waiting(NonZeroExit)" {
		t.Fatalf("after the failure: records %v starts %v, want a retry waiting", phases(out.Records), started(out))
	}
	next.Now = failedAt.Add(10 * time.Second)
	out, _ = pass(next)
	if len(out.Starts) != 1 {
		t.Fatalf("at the retry: starts %v, want the hook", started(out))
	}
	if want := failedAt.Add(10*time.Second + 5*time.Minute); !out.Starts[0].WaitDeadline.Equal(want) {
		t.Errorf("retry's WaitDeadline = %s, want %s (a fresh wait from when the retry became due)", out.Starts[0].WaitDeadline, want)
	}
}
