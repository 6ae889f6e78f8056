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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// entry is a resources[] entry selecting pods labelled app=<app>, with one exec hook in container c.
func entry(name, app string, deps ...string) v1alpha1.RestoreResourceHookSpec {
	return v1alpha1.RestoreResourceHookSpec{
		Name: name, DependsOn: deps,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		PostHooks:     []v1alpha1.RestoreResourceHook{execHook("c", "/bin/"+name)},
	}
}

func single(e v1alpha1.RestoreResourceHookSpec) v1alpha1.RestoreResourceHookSpec {
	e.SinglePod = true
	return e
}

func entries(es ...v1alpha1.RestoreResourceHookSpec) *v1alpha1.RestoreHookRunSpec {
	return &v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "r1"},
		Hooks: v1alpha1.RestoreHooks{Resources: es}}
}

// appPod is a pod labelled app=<app> whose container c came up at t0+upAfter (nil: not up).
func appPod(name, app string, upAfter *time.Duration) *corev1.Pod {
	var p *corev1.Pod
	if upAfter == nil {
		p = testPod(name, []string{"c"})
	} else {
		p = testPod(name, []string{"c"}, containerState{name: "c", running: true, started: t0.Add(*upAfter)})
	}
	p.Labels = map[string]string{"app": app}
	return p
}

func up(d time.Duration) *time.Duration { return &d }

// sim plays passes as the reconciler would: every hook a pass starts finishes before the next pass, with
// the outcome scripted per "pod:hook" (success by default). ran lists what was executed, in order.
type sim struct {
	in   Input
	fail map[string]v1alpha1.HookReason
	ran  []string
	evts []string
}

func newSim(spec *v1alpha1.RestoreHookRunSpec, pods ...*corev1.Pod) *sim {
	in := input(spec, pods...)
	in.RestoreMayCreatePods = true
	return &sim{in: in, fail: map[string]v1alpha1.HookReason{}}
}

func (s *sim) step() Output {
	out, next := pass(s.in)
	for _, st := range out.Starts {
		s.ran = append(s.ran, st.Pod+":"+st.Hook.Hook)
		a := Attempt{Key: st.Key, Started: next.Now, Finished: next.Now}
		if reason := s.fail[st.Pod+":"+st.Hook.Hook]; reason != "" {
			a.Reason, a.ExitCode, a.Message = reason, ptr.To[int32](1), "exit status 1"
		}
		next.Attempts = append(next.Attempts, a)
	}
	for _, e := range out.EntryEvents {
		s.evts = append(s.evts, e.Message)
	}
	next.Now = next.Now.Add(time.Second)
	s.in = next
	return out
}

// settle steps until a pass starts nothing and changes nothing.
func (s *sim) settle() Output {
	var out Output
	for range 20 {
		out = s.step()
		if len(out.Starts) == 0 && len(s.in.Attempts) == 0 {
			return out
		}
	}
	return out
}

// byHook lists "pod:hook=Phase(Reason)" for every exec record.
func byHook(records []v1alpha1.HookRecord) []string {
	var out []string
	for _, r := range records {
		if r.Type != v1alpha1.HookTypeExec {
			continue
		}
		p := strings.TrimPrefix(r.Pod, "app/") + ":" + r.Hook + "=" + string(r.Phase)
		if r.Reason != "" {
			p += "(" + string(r.Reason) + ")"
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func messageOf(records []v1alpha1.HookRecord, pod, hook string) string {
	for _, r := range records {
		if r.Pod == "app/"+pod && r.Hook == hook {
			return r.Message
		}
	}
	return "<no record>"
}

func TestDependsOn(t *testing.T) {
	t.Run("a chain: db, then one migration, then every replica warms", func(t *testing.T) {
		s := newSim(entries(entry("db", "db"), single(entry("migrate", "api", "db")), entry("warm", "api", "migrate")),
			appPod("db-0", "db", up(0)), appPod("api-0", "api", up(0)), appPod("api-1", "api", up(0)), appPod("api-2", "api", up(0)))

		out := s.settle()
		if diff := cmp.Diff([]string{"db-0:db"}, s.ran); diff != "" {
			t.Fatalf("while the Restore can create pods (-want +got):\n%s", diff)
		}
		if got := messageOf(out.Records, "api-1", "warm"); got != `waiting for entry "migrate": 1 hook not ended yet` {
			t.Errorf("warm's message = %q", got)
		}
		if got := messageOf(out.Records, "api-0", "migrate"); got != `waiting for entry "db": the Restore can still create pods for it` {
			t.Errorf("migrate's message = %q", got)
		}

		s.in.RestoreMayCreatePods = false
		out = s.settle()
		want := []string{"db-0:db", "api-0:migrate", "api-0:warm", "api-1:warm", "api-2:warm"}
		if diff := cmp.Diff(want, s.ran); diff != "" {
			t.Errorf("execution order (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"api-0:migrate=Succeeded", "api-0:warm=Succeeded", "api-1:warm=Succeeded", "api-2:warm=Succeeded", "db-0:db=Succeeded"}, byHook(out.Records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{`entry "migrate" released: "db" done`, `entry "warm" released: "migrate" done`}, s.evts); diff != "" {
			t.Errorf("entry events (-want +got):\n%s", diff)
		}
	})

	t.Run("a diamond: the join waits for both branches", func(t *testing.T) {
		s := newSim(entries(entry("a", "a"), entry("b", "b", "a"), entry("c", "c", "a"), entry("d", "d", "b", "c")),
			appPod("a-0", "a", up(0)), appPod("b-0", "b", up(0)), appPod("c-0", "c", up(0)), appPod("d-0", "d", up(0)))
		s.in.RestoreMayCreatePods = false
		s.step() // a
		s.step() // b and c
		if diff := cmp.Diff([]string{"a-0:a", "b-0:b", "c-0:c"}, s.ran); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		s.settle()
		if diff := cmp.Diff([]string{"a-0:a", "b-0:b", "c-0:c", "d-0:d"}, s.ran); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("a dependency that selects no pod holds only while the Restore can create pods", func(t *testing.T) {
		s := newSim(entries(entry("db", "db"), entry("app", "api", "db")), appPod("api-0", "api", up(0)))
		s.settle()
		if len(s.ran) != 0 {
			t.Fatalf("ran %v while the Restore could still create the db pod", s.ran)
		}
		s.in.RestoreMayCreatePods = false
		s.settle()
		if diff := cmp.Diff([]string{"api-0:app"}, s.ran); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("a failure skips the whole chain, naming the entry and the hook", func(t *testing.T) {
		s := newSim(entries(entry("db", "db"), entry("migrate", "api", "db"), entry("warm", "api", "migrate")),
			appPod("db-0", "db", up(0)), appPod("api-0", "api", up(0)))
		s.fail["db-0:db"] = v1alpha1.ReasonNonZeroExit
		s.in.RestoreMayCreatePods = false
		out := s.settle()
		if diff := cmp.Diff([]string{"api-0:migrate=Skipped(DependencyFailed)", "api-0:warm=Skipped(DependencyFailed)", "db-0:db=Failed(NonZeroExit)"}, byHook(out.Records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"db-0:db"}, s.ran); diff != "" {
			t.Errorf("ran (-want +got):\n%s", diff)
		}
		if got, want := messageOf(out.Records, "api-0", "migrate"),
			`not started: entry "db" did not succeed: hook db[0] in app/db-0 container c ended Failed (NonZeroExit)`; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		if len(s.evts) != 2 || !strings.HasPrefix(s.evts[0], `entry "migrate" skipped (1 hook)`) {
			t.Errorf("entry events %q", s.evts)
		}
	})

	t.Run("a held hook's wait still ends, and says what it waited for", func(t *testing.T) {
		e := entry("app", "api", "db")
		e.PostHooks[0].Exec.WaitTimeout = &metav1.Duration{Duration: 10 * time.Second}
		s := newSim(entries(entry("db", "db"), e), appPod("db-0", "db", up(0)), appPod("api-0", "api", up(0)))
		out, next := pass(s.in)
		next.InFlight = inFlight(out.Starts[0].Key) // the db hook keeps running
		next.Now = t0.Add(12 * time.Second)
		got := Decide(next)
		if diff := cmp.Diff([]string{"api-0:app=Failed(WaitTimeout)", "db-0:db=Running"}, byHook(got.Records)); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
		if msg := messageOf(got.Records, "api-0", "app"); !strings.Contains(msg, "dependencies were not done within the wait timeout of 10s") ||
			!strings.Contains(msg, `waiting for entry "db"`) {
			t.Errorf("message = %q", msg)
		}
	})

	t.Run("a held hook holds back later hooks of its container only", func(t *testing.T) {
		app := entry("app", "api", "db")
		side := v1alpha1.RestoreResourceHookSpec{Name: "side", PostHooks: []v1alpha1.RestoreResourceHook{execHook("s", "/bin/side")},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}
		later := v1alpha1.RestoreResourceHookSpec{Name: "later", PostHooks: []v1alpha1.RestoreResourceHook{execHook("c", "/bin/later")},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}
		pod := testPod("api-0", []string{"c", "s"}, running("c"), running("s"))
		pod.Labels = map[string]string{"app": "api"}
		s := newSim(entries(entry("db", "db"), app, side, later), pod)
		s.settle()
		if diff := cmp.Diff([]string{"api-0:side"}, s.ran); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("an operator restart mid-chain re-runs nothing and goes on", func(t *testing.T) {
		s := newSim(entries(entry("db", "db"), entry("migrate", "api", "db"), entry("warm", "api", "migrate")),
			appPod("db-0", "db", up(0)), appPod("api-0", "api", up(0)))
		s.in.RestoreMayCreatePods = false
		s.step() // db runs
		s.step() // migrate runs
		// A new process: only the persisted records and AbortedBy survive.
		restarted := input(s.in.Spec, s.in.Pods...)
		restarted.Records, restarted.Now = s.in.Records, s.in.Now
		restarted.Attempts = s.in.Attempts // the reconciler persists them with the next write; here they landed
		s.in = restarted
		s.settle()
		if diff := cmp.Diff([]string{"db-0:db", "api-0:migrate", "api-0:warm"}, s.ran); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("a restart with a dependency's hook in flight: Interrupted, and the chain is skipped", func(t *testing.T) {
		s := newSim(entries(entry("db", "db"), entry("app", "api", "db")), appPod("db-0", "db", up(0)), appPod("api-0", "api", up(0)))
		s.in.RestoreMayCreatePods = false
		_, next := pass(s.in) // db Running, its result never reported: the process died
		next.InFlight = nil
		got := Decide(next)
		if diff := cmp.Diff([]string{"api-0:app=Skipped(DependencyFailed)", "db-0:db=Failed(Interrupted)"}, byHook(got.Records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		if len(got.Starts) != 0 {
			t.Errorf("started %v", started(got))
		}
	})
}

func TestSinglePod(t *testing.T) {
	t.Run("the first pod whose container comes up, whatever order they appear in", func(t *testing.T) {
		s := newSim(entries(single(entry("migrate", "api"))), appPod("api-0", "api", nil), appPod("api-1", "api", up(5*time.Second)),
			appPod("api-2", "api", up(2*time.Second)))
		out := s.settle()
		if diff := cmp.Diff([]string{"api-2:migrate"}, s.ran); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"api-2:migrate=Succeeded"}, byHook(out.Records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		if !out.Records[0].SinglePod {
			t.Error("the chosen pod's record is not marked singlePod")
		}
		// Later pods coming up change nothing.
		s.in.Pods = append(s.in.Pods, appPod("api-3", "api", up(0)))
		s.settle()
		if len(s.ran) != 1 {
			t.Errorf("ran again: %v", s.ran)
		}
	})

	t.Run("ties go to namespace/name order", func(t *testing.T) {
		s := newSim(entries(single(entry("migrate", "api"))), appPod("api-b", "api", up(0)), appPod("api-a", "api", up(0)))
		s.settle()
		if diff := cmp.Diff([]string{"api-a:migrate"}, s.ran); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("no pod up: nothing runs and nothing fails", func(t *testing.T) {
		s := newSim(entries(single(entry("migrate", "api"))), appPod("api-0", "api", nil))
		s.in.RestoreMayCreatePods = false
		out := s.settle()
		if len(s.ran) != 0 || len(byHook(out.Records)) != 0 {
			t.Errorf("ran %v, records %v", s.ran, byHook(out.Records))
		}
	})

	t.Run("chosen pod gone before its first hook started: another is chosen", func(t *testing.T) {
		// Held by a dependency, so the chosen pod's hook has not started when the pod goes away.
		s := newSim(entries(entry("db", "db"), single(entry("migrate", "api", "db"))),
			appPod("db-0", "db", up(0)), appPod("api-0", "api", up(0)), appPod("api-1", "api", up(time.Second)))
		s.settle()
		if diff := cmp.Diff([]string{"api-0:migrate=Waiting(WaitingForDependency)", "db-0:db=Succeeded"}, byHook(s.in.Records)); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
		s.in.Pods = []*corev1.Pod{s.in.Pods[0], s.in.Pods[2]} // api-0 deleted
		s.in.RestoreMayCreatePods = false
		out := s.settle()
		if diff := cmp.Diff([]string{"db-0:db", "api-1:migrate"}, s.ran); diff != "" {
			t.Errorf("ran (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"api-1:migrate=Succeeded", "db-0:db=Succeeded"}, byHook(out.Records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})

	t.Run("once a hook started, the choice is final", func(t *testing.T) {
		e := single(entry("migrate", "api"))
		e.PostHooks[0].Exec.Retries = ptr.To[int32](2)
		s := newSim(entries(e), appPod("api-0", "api", up(0)), appPod("api-1", "api", up(time.Second)))
		s.fail["api-0:migrate"] = v1alpha1.ReasonNonZeroExit
		s.step()
		s.step()
		if diff := cmp.Diff([]string{"api-0:migrate=Waiting(NonZeroExit)"}, byHook(s.in.Records)); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
		s.in.Pods = s.in.Pods[1:] // api-0 deleted while its hook waits to be retried
		out := s.settle()
		if diff := cmp.Diff([]string{"api-0:migrate"}, s.ran); diff != "" {
			t.Errorf("ran (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"api-0:migrate=Failed(PodDeleted)"}, byHook(out.Records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})

	t.Run("singlePod and dependsOn together, across a restart", func(t *testing.T) {
		spec := entries(entry("db", "db"), single(entry("migrate", "api", "db")), entry("warm", "api", "migrate"))
		s := newSim(spec, appPod("db-0", "db", up(0)), appPod("api-0", "api", up(3*time.Second)), appPod("api-1", "api", up(time.Second)))
		s.in.RestoreMayCreatePods = false
		s.step() // db
		s.step() // migrate in api-1
		restarted := input(spec, s.in.Pods...)
		restarted.Records, restarted.Now, restarted.Attempts = s.in.Records, s.in.Now, s.in.Attempts
		s.in = restarted
		s.settle()
		if diff := cmp.Diff([]string{"db-0:db", "api-1:migrate", "api-0:warm", "api-1:warm"}, s.ran); diff != "" {
			t.Errorf("ran (-want +got):\n%s", diff)
		}
	})
}

// A dependent entry declared before its dependency, both in one container: the dependency runs first
// instead of being held back behind the dependent's held hook.
func TestDependsOnDeclaredFirst(t *testing.T) {
	s := newSim(entries(entry("warm", "api", "migrate"), entry("migrate", "api")), appPod("api-0", "api", up(0)))
	s.in.RestoreMayCreatePods = false
	s.settle()
	if diff := cmp.Diff([]string{"api-0:migrate", "api-0:warm"}, s.ran); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
