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

package hook

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func execKeys(hooks []ExecHook) []Key {
	var keys []Key
	for _, h := range hooks {
		keys = append(keys, h.Key)
	}
	return keys
}

func annotationExecKey(container string) Key {
	return Key{Type: v1alpha1.HookTypeExec, Source: v1alpha1.HookSourceAnnotation, Hook: v1alpha1.AnnotationHookName, Container: container}
}

func specExecKey(hook string, resourceIndex, index int32, container string) Key {
	return Key{Type: v1alpha1.HookTypeExec, Source: v1alpha1.HookSourceSpec, Hook: hook, ResourceIndex: resourceIndex, Index: index, Container: container}
}

func TestResolveExecHooksPrecedence(t *testing.T) {
	spec := func() *v1alpha1.RestoreHookRunSpec {
		return resources(
			v1alpha1.RestoreResourceHookSpec{Name: "h1", PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "a"), execHook("", "b")}},
		)
	}
	specKeys := []Key{specExecKey("h1", 0, 0, "app"), specExecKey("h1", 0, 1, "app")}
	tests := map[string]struct {
		pod  *corev1.Pod
		spec *v1alpha1.RestoreHookRunSpec
		want []Key
	}{
		"no annotations: spec hooks": {pod: newPod(), spec: spec(), want: specKeys},
		"command annotation replaces every spec exec hook": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date")), spec: spec(),
			want: []Key{annotationExecKey("app")},
		},
		"annotation hook without any spec": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date")), spec: nil,
			want: []Key{annotationExecKey("app")},
		},
		"empty podAnnotations means Honor": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date")), spec: func() *v1alpha1.RestoreHookRunSpec { s := spec(); s.PodAnnotations = ""; return s }(),
			want: []Key{annotationExecKey("app")},
		},
		"explicit Honor": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date")), spec: func() *v1alpha1.RestoreHookRunSpec {
				s := spec()
				s.PodAnnotations = v1alpha1.PodAnnotationsHonor
				return s
			}(),
			want: []Key{annotationExecKey("app")},
		},
		"Ignore: annotation hook dropped, spec hooks run": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date")), spec: ignoreAnnotations(spec()),
			want: specKeys,
		},
		"empty command annotation does not suppress spec hooks": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "", ExecContainerAnnotation, "app")), spec: spec(),
			want: specKeys,
		},
		"container and on-error without command do not suppress spec hooks": {
			pod: newPod(withAnnotations(ExecContainerAnnotation, "app", ExecOnErrorAnnotation, "Fail")), spec: spec(),
			want: specKeys,
		},
		"init annotation does not suppress spec exec hooks": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "alpine")), spec: spec(),
			want: specKeys,
		},
		"malformed annotation hook still replaces spec hooks": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "[broken")), spec: spec(),
			want: []Key{annotationExecKey("app")},
		},
		"nil pod": {pod: nil, spec: spec(), want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := execKeys(ResolveExecHooks(tc.pod, tc.spec, testMaxWait))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResolveExecHooks keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveExecHooksOrder(t *testing.T) {
	tests := map[string]struct {
		pod  *corev1.Pod
		spec *v1alpha1.RestoreHookRunSpec
		want []Key
	}{
		"resources order, then postHooks order; non-matching specs and init entries skipped": {
			pod: newPod(withContainers("app", "side")),
			spec: resources(
				v1alpha1.RestoreResourceHookSpec{Name: "a", PostHooks: []v1alpha1.RestoreResourceHook{
					execHook("side", "1"), initHook(corev1.Container{Name: "i", Image: "x"}), execHook("", "2"),
				}},
				v1alpha1.RestoreResourceHookSpec{Name: "b", IncludedNamespaces: []string{"other"}, PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "3")}},
				v1alpha1.RestoreResourceHookSpec{Name: "c", PostHooks: []v1alpha1.RestoreResourceHook{execHook("app", "4")}},
			),
			want: []Key{specExecKey("a", 0, 0, "side"), specExecKey("a", 0, 2, "app"), specExecKey("c", 2, 0, "app")},
		},
		"two specs sharing a name are told apart by resourceIndex": {
			pod: newPod(),
			spec: resources(
				v1alpha1.RestoreResourceHookSpec{Name: "same", PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "1")}},
				v1alpha1.RestoreResourceHookSpec{Name: "same", PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "2")}},
			),
			want: []Key{specExecKey("same", 0, 0, "app"), specExecKey("same", 1, 0, "app")},
		},
		"label selector filters specs": {
			pod: newPod(),
			spec: resources(
				v1alpha1.RestoreResourceHookSpec{Name: "mysql", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mysql"}},
					PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "1")}},
				v1alpha1.RestoreResourceHookSpec{Name: "pg", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}},
					PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "2")}},
			),
			want: []Key{specExecKey("pg", 1, 0, "app")},
		},
		"no matching spec": {
			pod:  newPod(inNamespace("web")),
			spec: resources(v1alpha1.RestoreResourceHookSpec{Name: "a", IncludedNamespaces: []string{"app"}, PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "1")}}),
			want: nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := execKeys(ResolveExecHooks(tc.pod, tc.spec, testMaxWait))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResolveExecHooks keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveExecHooksValues(t *testing.T) {
	oneSpec := func(e v1alpha1.ExecRestoreHook) *v1alpha1.RestoreHookRunSpec {
		return resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &e}}})
	}
	tests := map[string]struct {
		pod  *corev1.Pod
		spec *v1alpha1.RestoreHookRunSpec
		want ExecHook
	}{
		"spec hook defaults": {
			pod:  newPod(withContainers("first", "second")),
			spec: oneSpec(v1alpha1.ExecRestoreHook{Command: []string{"date"}}),
			want: ExecHook{
				Key: specExecKey("h", 0, 0, "first"), Command: []string{"date"}, OnError: v1alpha1.HookErrorModeContinue,
				ExecTimeout: DefaultExecTimeout, WaitTimeout: testMaxWait, RetryDelay: DefaultRetryDelay,
			},
		},
		"spec hook zero durations are defaults": {
			pod: newPod(),
			spec: oneSpec(v1alpha1.ExecRestoreHook{Command: []string{"date"}, ExecTimeout: dur(0), WaitTimeout: dur(0), RetryDelay: dur(0),
				Retries: ptr.To[int32](0), WaitForReady: ptr.To(false), OnError: ""}),
			want: ExecHook{
				Key: specExecKey("h", 0, 0, "app"), Command: []string{"date"}, OnError: v1alpha1.HookErrorModeContinue,
				ExecTimeout: DefaultExecTimeout, WaitTimeout: testMaxWait, RetryDelay: DefaultRetryDelay,
			},
		},
		"spec hook explicit values": {
			pod: newPod(withContainers("first", "second")),
			spec: oneSpec(v1alpha1.ExecRestoreHook{Container: "second", Command: []string{"/bin/sh", "-c", "x"}, OnError: v1alpha1.HookErrorModeFail,
				ExecTimeout: dur(time.Minute), WaitTimeout: dur(5 * time.Minute), WaitForReady: ptr.To(true),
				Retries: ptr.To[int32](2), RetryDelay: dur(time.Second)}),
			want: ExecHook{
				Key: specExecKey("h", 0, 0, "second"), Command: []string{"/bin/sh", "-c", "x"}, OnError: v1alpha1.HookErrorModeFail,
				ExecTimeout: time.Minute, WaitTimeout: 5 * time.Minute, WaitForReady: true, Retries: 2, RetryDelay: time.Second,
			},
		},
		"spec onError Continue": {
			pod:  newPod(),
			spec: oneSpec(v1alpha1.ExecRestoreHook{Command: []string{"date"}, OnError: v1alpha1.HookErrorModeContinue}),
			want: ExecHook{
				Key: specExecKey("h", 0, 0, "app"), Command: []string{"date"}, OnError: v1alpha1.HookErrorModeContinue,
				ExecTimeout: DefaultExecTimeout, WaitTimeout: testMaxWait, RetryDelay: DefaultRetryDelay,
			},
		},
		"annotation hook defaults": {
			pod: newPod(withContainers("first", "second"), withAnnotations(ExecCommandAnnotation, `["a","b"]`)),
			want: ExecHook{
				Key: annotationExecKey("first"), Command: []string{"a", "b"}, OnError: v1alpha1.HookErrorModeContinue,
				ExecTimeout: DefaultExecTimeout, WaitTimeout: testMaxWait, RetryDelay: DefaultRetryDelay,
			},
		},
		"annotation hook explicit values": {
			pod: newPod(withContainers("first", "second"), withAnnotations(
				ExecCommandAnnotation, "/hook.sh", ExecContainerAnnotation, "second", ExecOnErrorAnnotation, "Fail",
				ExecTimeoutAnnotation, "10s", ExecWaitTimeoutAnnotation, "20s", ExecWaitForReadyAnnotation, "true")),
			want: ExecHook{
				Key: annotationExecKey("second"), Command: []string{"/hook.sh"}, OnError: v1alpha1.HookErrorModeFail,
				ExecTimeout: 10 * time.Second, WaitTimeout: 20 * time.Second, WaitForReady: true, RetryDelay: DefaultRetryDelay,
			},
		},
		"malformed annotation hook carries its problem": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date", ExecOnErrorAnnotation, "FAIL")),
			want: ExecHook{
				Key: annotationExecKey("app"), Command: []string{"date"}, OnError: v1alpha1.HookErrorModeContinue,
				ExecTimeout: DefaultExecTimeout, WaitTimeout: testMaxWait, RetryDelay: DefaultRetryDelay,
				Problem: &Problem{Reason: v1alpha1.ReasonInvalidAnnotation,
					Message: `annotation post.hook.restore.velero.io/on-error: value "FAIL" must be exactly Continue or Fail (case-sensitive)`},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ResolveExecHooks(tc.pod, tc.spec, testMaxWait)
			if len(got) != 1 {
				t.Fatalf("got %d hooks, want 1: %+v", len(got), got)
			}
			if diff := cmp.Diff(tc.want, got[0]); diff != "" {
				t.Errorf("ResolveExecHooks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveExecHooksContainerNotFound(t *testing.T) {
	notFound := func(contains ...string) *wantProblem {
		return &wantProblem{reason: v1alpha1.ReasonContainerNotFound, contains: contains}
	}
	spec := func(container string) *v1alpha1.RestoreHookRunSpec {
		return resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{
			initHook(corev1.Container{Name: "i", Image: "x"}), execHook(container, "date"),
		}})
	}
	tests := map[string]struct {
		pod           *corev1.Pod
		spec          *v1alpha1.RestoreHookRunSpec
		wantContainer string
		wantProblem   *wantProblem
	}{
		"application container":        {pod: newPod(withContainers("a", "b")), spec: spec("b"), wantContainer: "b"},
		"defaulted to first container": {pod: newPod(withContainers("a", "b")), spec: spec(""), wantContainer: "a"},
		"native sidecar is a target":   {pod: newPod(withInitContainers(sidecar("mesh"))), spec: spec("mesh"), wantContainer: "mesh"},
		"missing container in spec hook": {
			pod: newPod(withContainers("a", "b")), spec: spec("c"), wantContainer: "c",
			wantProblem: notFound(`"c"`, "app/db-0", "spec.hooks.resources[0].postHooks[1].exec.container", `hook spec "h"`, "a, b"),
		},
		"regular init container is not a target": {
			pod: newPod(withInitContainers(corev1.Container{Name: "setup", Image: "x"})), spec: spec("setup"), wantContainer: "setup",
			wantProblem: notFound(`"setup"`, "app/db-0"),
		},
		"init container with restartPolicy other than Always is not a target": {
			pod:  newPod(withInitContainers(corev1.Container{Name: "setup", Image: "x", RestartPolicy: ptr.To(corev1.ContainerRestartPolicy("OnFailure"))})),
			spec: spec("setup"), wantContainer: "setup",
			wantProblem: notFound(`"setup"`),
		},
		"pod without containers": {
			pod: newPod(withContainers()), spec: spec(""), wantContainer: "",
			wantProblem: notFound("app/db-0", "no containers"),
		},
		"annotation naming a missing container": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date", ExecContainerAnnotation, "ghost")), wantContainer: "ghost",
			wantProblem: notFound(ExecContainerAnnotation, `"ghost"`, "app/db-0"),
		},
		"annotation naming a native sidecar": {
			pod:           newPod(withInitContainers(sidecar("proxy")), withAnnotations(ExecCommandAnnotation, "date", ExecContainerAnnotation, "proxy")),
			wantContainer: "proxy",
		},
		"annotation hook on a pod without containers": {
			pod: newPod(withContainers(), withAnnotations(ExecCommandAnnotation, "date")), wantContainer: "",
			wantProblem: notFound("no containers"),
		},
		"malformed annotation is reported before a missing container": {
			pod:           newPod(withAnnotations(ExecCommandAnnotation, "date", ExecContainerAnnotation, "ghost", ExecTimeoutAnnotation, "x")),
			wantContainer: "ghost",
			wantProblem:   invalid(ExecTimeoutAnnotation),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ResolveExecHooks(tc.pod, tc.spec, testMaxWait)
			if len(got) != 1 {
				t.Fatalf("got %d hooks, want 1: %+v", len(got), got)
			}
			if got[0].Container != tc.wantContainer {
				t.Errorf("container = %q, want %q", got[0].Container, tc.wantContainer)
			}
			checkProblem(t, got[0].Problem, tc.wantProblem)
		})
	}
}

func TestResolveExecHooksLeavesSpecAlone(t *testing.T) {
	tests := map[string]struct {
		spec *v1alpha1.RestoreHookRunSpec
	}{
		"defaults are not written back": {spec: resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{execHook("", "a", "b")}})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := tc.spec.DeepCopy()
			hooks := ResolveExecHooks(newPod(), tc.spec, testMaxWait)
			hooks[0].Command[0] = "changed"
			if diff := cmp.Diff(before, tc.spec); diff != "" {
				t.Errorf("spec changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestContainerWaitsForReady(t *testing.T) {
	hooks := []ExecHook{
		{Key: Key{Container: "a"}},
		{Key: Key{Container: "a"}, WaitForReady: true},
		{Key: Key{Container: "b"}},
		{Key: Key{Container: "c"}, WaitForReady: true, Problem: &Problem{Reason: v1alpha1.ReasonInvalidAnnotation}},
	}
	tests := map[string]struct {
		container string
		want      bool
	}{
		"one hook of the container asks for Ready":   {container: "a", want: true},
		"another container's flag does not leak":     {container: "b", want: false},
		"a hook that never runs does not make waits": {container: "c", want: false},
		"unknown container":                          {container: "z", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ContainerWaitsForReady(hooks, tc.container); got != tc.want {
				t.Errorf("ContainerWaitsForReady(%q) = %v, want %v", tc.container, got, tc.want)
			}
		})
	}
}

func TestGroupByContainer(t *testing.T) {
	h := func(container string, index int32) ExecHook {
		return ExecHook{Key: Key{Container: container, Index: index}}
	}
	tests := map[string]struct {
		hooks     []ExecHook
		wantOrder []string
		wantBy    map[string][]ExecHook
	}{
		"empty": {hooks: nil, wantOrder: nil, wantBy: map[string][]ExecHook{}},
		"first appearance order, declaration order within a container": {
			hooks:     []ExecHook{h("b", 0), h("a", 1), h("b", 2), h("c", 3), h("a", 4)},
			wantOrder: []string{"b", "a", "c"},
			wantBy: map[string][]ExecHook{
				"b": {h("b", 0), h("b", 2)},
				"a": {h("a", 1), h("a", 4)},
				"c": {h("c", 3)},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			order, by := GroupByContainer(tc.hooks)
			if diff := cmp.Diff(tc.wantOrder, order); diff != "" {
				t.Errorf("order mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBy, by); diff != "" {
				t.Errorf("byContainer mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerUp(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	terminated := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	withStatus := func(app, init []corev1.ContainerStatus) *corev1.Pod {
		p := newPod(withInitContainers(sidecar("proxy")))
		p.Status.ContainerStatuses = app
		p.Status.InitContainerStatuses = init
		return p
	}
	tests := map[string]struct {
		pod          *corev1.Pod
		container    string
		waitForReady bool
		want         bool
	}{
		"running": {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: running}}, nil), container: "app", want: true},
		"running but not ready, wait for Running": {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: running, Ready: false}}, nil), container: "app", want: true},
		"running but not ready, wait for Ready":   {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: running, Ready: false}}, nil), container: "app", waitForReady: true, want: false},
		"ready":                                   {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: running, Ready: true}}, nil), container: "app", waitForReady: true, want: true},
		"waiting":                                 {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: waiting}}, nil), container: "app", want: false},
		"terminated":                              {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: terminated}}, nil), container: "app", want: false},
		"terminated with a stale Ready":           {pod: withStatus([]corev1.ContainerStatus{{Name: "app", State: terminated, Ready: true}}, nil), container: "app", waitForReady: true, want: false},
		"no status yet":                           {pod: withStatus(nil, nil), container: "app", want: false},
		"another container is running":            {pod: withStatus([]corev1.ContainerStatus{{Name: "other", State: running}}, nil), container: "app", want: false},
		"native sidecar running":                  {pod: withStatus(nil, []corev1.ContainerStatus{{Name: "proxy", State: running}}), container: "proxy", want: true},
		"native sidecar ready":                    {pod: withStatus(nil, []corev1.ContainerStatus{{Name: "proxy", State: running, Ready: true}}), container: "proxy", waitForReady: true, want: true},
		"native sidecar not ready":                {pod: withStatus(nil, []corev1.ContainerStatus{{Name: "proxy", State: running}}), container: "proxy", waitForReady: true, want: false},
		"native sidecar waiting":                  {pod: withStatus(nil, []corev1.ContainerStatus{{Name: "proxy", State: waiting}}), container: "proxy", want: false},
		"nil pod":                                 {pod: nil, container: "app", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ContainerUp(tc.pod, tc.container, tc.waitForReady); got != tc.want {
				t.Errorf("ContainerUp(%q, waitForReady=%v) = %v, want %v", tc.container, tc.waitForReady, got, tc.want)
			}
		})
	}
}
