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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

func initSpec(timeout time.Duration) *v1alpha1.RestoreHookRunSpec {
	ih := &v1alpha1.InitRestoreHook{InitContainers: []corev1.Container{{Name: "prep", Image: "busybox", Command: []string{"true"}}}}
	if timeout > 0 {
		ih.Timeout = &metav1.Duration{Duration: timeout}
	}
	return specWith(v1alpha1.RestoreResourceHook{Init: ih})
}

// initPod returns a pod with the given init containers and statuses.
func initPod(restartPolicy corev1.RestartPolicy, injected []corev1.Container, statuses ...corev1.ContainerStatus) *corev1.Pod {
	p := testPod("p", []string{"app"})
	p.Spec.RestartPolicy = restartPolicy
	p.Spec.InitContainers = injected
	p.Status.Phase = corev1.PodPending
	p.Status.InitContainerStatuses = statuses
	return p
}

var prep = corev1.Container{Name: "prep", Image: "busybox", Command: []string{"true"}}

func terminated(name string, code int32, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, RestartCount: restarts, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error",
			StartedAt: metav1.NewTime(t0), FinishedAt: metav1.NewTime(t0.Add(time.Second))}}}
}

func TestInitTracking(t *testing.T) {
	crashLooping := corev1.ContainerStatus{Name: "prep", RestartCount: 2,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 4}}}
	cases := map[string]struct {
		pod          *corev1.Pod
		timeout      time.Duration
		now          time.Duration
		wantPhase    string
		wantAttempts int32
		wantExit     *int32
	}{
		"not started yet": {
			pod:       initPod(corev1.RestartPolicyAlways, []corev1.Container{prep}),
			wantPhase: "Waiting",
		},
		"running": {
			pod: initPod(corev1.RestartPolicyAlways, []corev1.Container{prep}, corev1.ContainerStatus{Name: "prep",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}}}),
			wantPhase: "Running", wantAttempts: 1,
		},
		"exit 0": {
			pod:       initPod(corev1.RestartPolicyAlways, []corev1.Container{prep}, terminated("prep", 0, 0)),
			wantPhase: "Succeeded", wantAttempts: 1, wantExit: ptrTo[int32](0),
		},
		"non-zero exit the pod will not retry (restartPolicy Never)": {
			pod:       initPod(corev1.RestartPolicyNever, []corev1.Container{prep}, terminated("prep", 3, 0)),
			wantPhase: "Failed(NonZeroExit)", wantAttempts: 1, wantExit: ptrTo[int32](3),
		},
		"non-zero exit the kubelet retries: still running, attempts count restarts": {
			pod:       initPod(corev1.RestartPolicyAlways, []corev1.Container{prep}, crashLooping),
			wantPhase: "Running", wantAttempts: 3, wantExit: ptrTo[int32](4),
		},
		"non-zero exit in a pod that Failed": {
			pod: func() *corev1.Pod {
				p := initPod(corev1.RestartPolicyOnFailure, []corev1.Container{prep}, terminated("prep", 5, 1))
				p.Status.Phase = corev1.PodFailed
				return p
			}(),
			wantPhase: "Failed(NonZeroExit)", wantAttempts: 2, wantExit: ptrTo[int32](5),
		},
		"not completed within the hook's timeout": {
			pod:       initPod(corev1.RestartPolicyAlways, []corev1.Container{prep}, crashLooping),
			timeout:   time.Minute,
			now:       time.Minute + time.Second,
			wantPhase: "Failed(InitTimeout)", wantAttempts: 3, wantExit: ptrTo[int32](4),
		},
		"no timeout: maxWait bounds it": {
			pod:       initPod(corev1.RestartPolicyAlways, []corev1.Container{prep}),
			now:       time.Hour + time.Second,
			wantPhase: "Failed(InitTimeout)",
		},
		"pod created without the container": {
			pod:       initPod(corev1.RestartPolicyAlways, nil),
			wantPhase: "Failed(NotInjected)",
		},
		"an identical container of another name counts as injected": {
			pod: initPod(corev1.RestartPolicyAlways, []corev1.Container{{Name: "velero-did-it", Image: "busybox", Command: []string{"true"}}},
				terminated("velero-did-it", 0, 0)),
			wantPhase: "Succeeded", wantAttempts: 1, wantExit: ptrTo[int32](0),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := input(initSpec(tc.timeout), tc.pod)
			in.Now = t0.Add(tc.now)
			out := Decide(in)
			if len(out.Records) != 1 {
				t.Fatalf("want one record, got %v", phases(out.Records))
			}
			r := out.Records[0]
			got := string(r.Phase)
			if r.Reason != "" {
				got += "(" + string(r.Reason) + ")"
			}
			if got != tc.wantPhase || r.Attempts != tc.wantAttempts || r.Type != v1alpha1.HookTypeInit {
				t.Errorf("record %s type %s attempts %d (%s), want %s attempts %d", got, r.Type, r.Attempts, r.Message, tc.wantPhase, tc.wantAttempts)
			}
			if diff := cmp.Diff(tc.wantExit, r.ExitCode); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
			if len(out.Starts) != 0 {
				t.Errorf("an init hook was sent through exec")
			}
		})
	}

	// Issue 19 item 4: a hook whose container name equals one of the pod's own init containers is never
	// injected; the tracker must not report the application's container as the hook's outcome.
	clashCases := map[string]struct {
		pod        *corev1.Pod
		wantPhase  string
		wantInText []string
	}{
		"the pod's own init container of the hook's name is not the hook": {
			pod: initPod(corev1.RestartPolicyAlways, []corev1.Container{{Name: "prep", Image: "app-migrations:2", Command: []string{"migrate"}}},
				terminated("prep", 0, 0)),
			wantPhase:  "Failed(InitContainerNameClash)",
			wantInText: []string{`"prep"`, "app-migrations:2", "not injected"},
		},
		"a container the webhook recorded as injected counts even if its program differs from the spec now": {
			pod: func() *corev1.Pod {
				p := initPod(corev1.RestartPolicyAlways, []corev1.Container{{Name: "prep", Image: "busybox", Command: []string{"old"}}},
					terminated("prep", 0, 0))
				p.Annotations = map[string]string{hook.InjectedAnnotation: hook.EncodeInjected([]string{"prep"})}
				return p
			}(),
			wantPhase: "Succeeded",
		},
		"refused at injection (Pod Security): NotInjected with the webhook's reason": {
			pod: func() *corev1.Pod {
				p := initPod(corev1.RestartPolicyAlways, nil)
				p.Annotations = map[string]string{hook.RefusedInitAnnotation: hook.EncodeRefused(map[string]string{
					"prep": `securityContext.privileged: violates PodSecurity "baseline:latest"`})}
				return p
			}(),
			wantPhase:  "Failed(NotInjected)",
			wantInText: []string{"securityContext.privileged", "baseline:latest"},
		},
	}
	for name, tc := range clashCases {
		t.Run(name, func(t *testing.T) {
			out := Decide(input(initSpec(0), tc.pod))
			if len(out.Records) != 1 {
				t.Fatalf("want one record, got %v", phases(out.Records))
			}
			r := out.Records[0]
			got := string(r.Phase)
			if r.Reason != "" {
				got += "(" + string(r.Reason) + ")"
			}
			if got != tc.wantPhase {
				t.Errorf("record %s (%s), want %s", got, r.Message, tc.wantPhase)
			}
			for _, s := range tc.wantInText {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q does not mention %q", r.Message, s)
				}
			}
		})
	}

	t.Run("pod deleted before the init container completed", func(t *testing.T) {
		_, next := pass(input(initSpec(0), initPod(corev1.RestartPolicyAlways, []corev1.Container{prep})))
		next.Pods = nil
		if diff := cmp.Diff([]string{"p/prep:0=Failed(PodDeleted)"}, phases(Decide(next).Records)); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
	})

	t.Run("annotation init container: XOR with spec init hooks", func(t *testing.T) {
		pod := initPod(corev1.RestartPolicyAlways, []corev1.Container{{Name: hook.DefaultInitContainerName, Image: "alpine"}})
		pod.Annotations = map[string]string{hook.InitContainerImageAnnotation: "alpine"}
		out := Decide(input(initSpec(0), pod))
		if len(out.Records) != 1 || out.Records[0].Source != v1alpha1.HookSourceAnnotation ||
			out.Records[0].Container != hook.DefaultInitContainerName {
			t.Errorf("want only the annotation init hook, got %+v", out.Records)
		}
	})
}

func TestForbidden(t *testing.T) {
	in := input(specWith(execHook("db", "a")))
	in.Forbidden = []*corev1.Pod{testPod("elsewhere", []string{"db"}, running("db"))}
	out := Decide(in)
	if diff := cmp.Diff([]string{"elsewhere/db:0=Failed(Forbidden)"}, phases(out.Records)); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	if len(out.Starts) != 0 {
		t.Errorf("a hook started in a forbidden namespace")
	}
	_, next := pass(in)
	if diff := cmp.Diff([]string{"elsewhere/db:0=Failed(Forbidden)"}, phases(Decide(next).Records)); diff != "" {
		t.Errorf("second pass (-want +got):\n%s", diff)
	}
}

func ptrTo[T any](v T) *T { return &v }
