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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func initKeys(hooks []InitHook) []Key {
	var keys []Key
	for _, h := range hooks {
		keys = append(keys, h.Key)
	}
	return keys
}

func annotationInitKey(name string) Key {
	return Key{Type: v1alpha1.HookTypeInit, Source: v1alpha1.HookSourceAnnotation, Hook: v1alpha1.AnnotationHookName, Container: name}
}

func specInitKey(hook string, resourceIndex, index int32, name string) Key {
	return Key{Type: v1alpha1.HookTypeInit, Source: v1alpha1.HookSourceSpec, Hook: hook, ResourceIndex: resourceIndex, Index: index, Container: name}
}

func ctr(name, image string, command ...string) corev1.Container {
	return corev1.Container{Name: name, Image: image, Command: command}
}

func TestResolveInitHooksPrecedenceAndOrder(t *testing.T) {
	spec := func() *v1alpha1.RestoreHookRunSpec {
		return resources(
			v1alpha1.RestoreResourceHookSpec{Name: "h1", PostHooks: []v1alpha1.RestoreResourceHook{
				initHook(ctr("x1", "alpine"), ctr("x2", "alpine")), execHook("", "date"), initHook(ctr("x3", "alpine")),
			}},
			v1alpha1.RestoreResourceHookSpec{Name: "other-ns", IncludedNamespaces: []string{"web"}, PostHooks: []v1alpha1.RestoreResourceHook{initHook(ctr("no", "alpine"))}},
			v1alpha1.RestoreResourceHookSpec{Name: "h2", PostHooks: []v1alpha1.RestoreResourceHook{initHook(ctr("y1", "alpine"))}},
		)
	}
	specKeys := []Key{
		specInitKey("h1", 0, 0, "x1"), specInitKey("h1", 0, 0, "x2"), specInitKey("h1", 0, 2, "x3"), specInitKey("h2", 2, 0, "y1"),
	}
	tests := map[string]struct {
		pod  *corev1.Pod
		spec *v1alpha1.RestoreHookRunSpec
		want []Key
	}{
		"spec init containers, one hook each, in resources/postHooks/initContainers order": {pod: newPod(), spec: spec(), want: specKeys},
		"image annotation replaces every spec init hook": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox")), spec: spec(),
			want: []Key{annotationInitKey(DefaultInitContainerName)},
		},
		"annotation with its own name": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox", InitContainerNameAnnotation, "prep")), spec: spec(),
			want: []Key{annotationInitKey("prep")},
		},
		"Ignore: annotation dropped, spec init hooks apply": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox")), spec: ignoreAnnotations(spec()),
			want: specKeys,
		},
		"empty image annotation does not suppress spec hooks": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "", InitCommandAnnotation, "x")), spec: spec(),
			want: specKeys,
		},
		"exec annotation does not suppress spec init hooks": {
			pod: newPod(withAnnotations(ExecCommandAnnotation, "date")), spec: spec(),
			want: specKeys,
		},
		"annotation without spec": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox")), spec: nil,
			want: []Key{annotationInitKey(DefaultInitContainerName)},
		},
		"nil pod": {pod: nil, spec: spec(), want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := initKeys(ResolveInitHooks(tc.pod, tc.spec, testMaxWait))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResolveInitHooks keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Exec and init precedence are decided separately: one pod can get its exec hook from an annotation and
// its init hooks from the spec, or the reverse.
func TestPrecedenceIsPerHookType(t *testing.T) {
	spec := resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{
		initHook(ctr("spec-init", "alpine")), execHook("", "spec-exec"),
	}})
	tests := map[string]struct {
		pod      *corev1.Pod
		wantExec []Key
		wantInit []Key
	}{
		"exec from annotation, init from spec": {
			pod:      newPod(withAnnotations(ExecCommandAnnotation, "date")),
			wantExec: []Key{annotationExecKey("app")},
			wantInit: []Key{specInitKey("h", 0, 0, "spec-init")},
		},
		"init from annotation, exec from spec": {
			pod:      newPod(withAnnotations(InitContainerImageAnnotation, "busybox")),
			wantExec: []Key{specExecKey("h", 0, 1, "app")},
			wantInit: []Key{annotationInitKey(DefaultInitContainerName)},
		},
		"both from annotations": {
			pod:      newPod(withAnnotations(ExecCommandAnnotation, "date", InitContainerImageAnnotation, "busybox")),
			wantExec: []Key{annotationExecKey("app")},
			wantInit: []Key{annotationInitKey(DefaultInitContainerName)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.wantExec, execKeys(ResolveExecHooks(tc.pod, spec, testMaxWait))); diff != "" {
				t.Errorf("exec keys mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantInit, initKeys(ResolveInitHooks(tc.pod, spec, testMaxWait))); diff != "" {
				t.Errorf("init keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveInitHooksAnnotationContainer(t *testing.T) {
	mounts := []corev1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "conf", MountPath: "/etc/app", ReadOnly: true, SubPath: "app"},
	}
	appWithMounts := func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{
			{Name: "app", Image: "app:1", VolumeMounts: mounts},
			{Name: "second", Image: "s:1", VolumeMounts: []corev1.VolumeMount{{Name: "other", MountPath: "/other"}}},
		}
	}
	tests := map[string]struct {
		pod  *corev1.Pod
		want InitHook
	}{
		"image only: default name, entrypoint, first container's mounts, maxWait": {
			pod: newPod(appWithMounts, withAnnotations(InitContainerImageAnnotation, "busybox")),
			want: InitHook{
				Key:       annotationInitKey(DefaultInitContainerName),
				Container: corev1.Container{Name: DefaultInitContainerName, Image: "busybox", VolumeMounts: mounts},
				Timeout:   testMaxWait,
			},
		},
		"every annotation": {
			pod: newPod(appWithMounts, withAnnotations(InitContainerImageAnnotation, "busybox", InitContainerNameAnnotation, "prep",
				InitCommandAnnotation, `["/bin/sh","-c","touch /data/ready"]`, InitTimeoutAnnotation, "2m")),
			want: InitHook{
				Key:       annotationInitKey("prep"),
				Container: corev1.Container{Name: "prep", Image: "busybox", Command: []string{"/bin/sh", "-c", "touch /data/ready"}, VolumeMounts: mounts},
				Timeout:   2 * time.Minute,
			},
		},
		"first container without mounts": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox")),
			want: InitHook{
				Key:       annotationInitKey(DefaultInitContainerName),
				Container: corev1.Container{Name: DefaultInitContainerName, Image: "busybox"},
				Timeout:   testMaxWait,
			},
		},
		"pod without containers": {
			pod: newPod(withContainers(), withAnnotations(InitContainerImageAnnotation, "busybox")),
			want: InitHook{
				Key:       annotationInitKey(DefaultInitContainerName),
				Container: corev1.Container{Name: DefaultInitContainerName, Image: "busybox"},
				Timeout:   testMaxWait,
			},
		},
		"bidirectional propagation is not copied": {
			pod: newPod(func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
					{Name: "shared", MountPath: "/shared", MountPropagation: ptr.To(corev1.MountPropagationBidirectional)},
					{Name: "host", MountPath: "/host", MountPropagation: ptr.To(corev1.MountPropagationHostToContainer)},
				}
			}, withAnnotations(InitContainerImageAnnotation, "busybox")),
			want: InitHook{
				Key: annotationInitKey(DefaultInitContainerName),
				Container: corev1.Container{Name: DefaultInitContainerName, Image: "busybox", VolumeMounts: []corev1.VolumeMount{
					{Name: "shared", MountPath: "/shared"},
					{Name: "host", MountPath: "/host", MountPropagation: ptr.To(corev1.MountPropagationHostToContainer)},
				}},
				Timeout: testMaxWait,
			},
		},
		"malformed annotation: returned with its problem": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox", InitTimeoutAnnotation, "soon")),
			want: InitHook{
				Key:       annotationInitKey(DefaultInitContainerName),
				Container: corev1.Container{Name: DefaultInitContainerName, Image: "busybox"},
				Timeout:   testMaxWait,
				Problem: &Problem{Reason: v1alpha1.ReasonInvalidAnnotation,
					Message: `annotation init.hook.restore.velero.io/timeout: value "soon" is not a Go duration such as 30s, 5m or 1h30m`},
			},
		},
		"name of an application container": {
			pod: newPod(withAnnotations(InitContainerImageAnnotation, "busybox", InitContainerNameAnnotation, "app")),
			want: InitHook{
				Key:       annotationInitKey("app"),
				Container: corev1.Container{Name: "app", Image: "busybox"},
				Timeout:   testMaxWait,
				Problem: &Problem{Reason: v1alpha1.ReasonInvalidAnnotation,
					Message: `annotation init.hook.restore.velero.io/container-name: value "app" is already the name of an application container of pod app/db-0`},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := tc.pod.DeepCopy()
			got := ResolveInitHooks(tc.pod, nil, testMaxWait)
			if len(got) != 1 {
				t.Fatalf("got %d hooks, want 1", len(got))
			}
			if diff := cmp.Diff(tc.want, got[0]); diff != "" {
				t.Errorf("ResolveInitHooks mismatch (-want +got):\n%s", diff)
			}
			// The copied mounts must not alias the pod's.
			for i := range got[0].Container.VolumeMounts {
				got[0].Container.VolumeMounts[i].Name = "changed"
			}
			if diff := cmp.Diff(before, tc.pod); diff != "" {
				t.Errorf("pod changed through the hook (-before +after):\n%s", diff)
			}
		})
	}
}

func TestResolveInitHooksSpecContainers(t *testing.T) {
	full := corev1.Container{
		Name: "restore-hook-init1", Image: "alpine:3.20", Command: []string{"/bin/sh", "-c", "cp /backup/* /data"},
		Args: []string{"--x"}, Env: []corev1.EnvVar{{Name: "A", Value: "1"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
	}
	tests := map[string]struct {
		pod  *corev1.Pod
		spec *v1alpha1.RestoreHookRunSpec
		want []InitHook
	}{
		"container copied whole; timeout defaults to maxWait": {
			pod:  newPod(),
			spec: resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{initHook(full)}}),
			want: []InitHook{{Key: specInitKey("h", 0, 0, "restore-hook-init1"), Container: full, Timeout: testMaxWait}},
		},
		"hook timeout applies to each of its containers": {
			pod: newPod(),
			spec: resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{
				{Init: &v1alpha1.InitRestoreHook{InitContainers: []corev1.Container{ctr("a", "x"), ctr("b", "x")}, Timeout: dur(3 * time.Minute)}},
				{Init: &v1alpha1.InitRestoreHook{InitContainers: []corev1.Container{ctr("c", "x")}, Timeout: dur(0)}},
			}}),
			want: []InitHook{
				{Key: specInitKey("h", 0, 0, "a"), Container: ctr("a", "x"), Timeout: 3 * time.Minute},
				{Key: specInitKey("h", 0, 0, "b"), Container: ctr("b", "x"), Timeout: 3 * time.Minute},
				{Key: specInitKey("h", 0, 1, "c"), Container: ctr("c", "x"), Timeout: testMaxWait},
			},
		},
		"containers the API server would refuse carry a problem": {
			pod: newPod(),
			spec: resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{
				initHook(ctr("", "x"), ctr("noimage", ""), ctr("app", "x")),
			}}),
			want: []InitHook{
				{Key: specInitKey("h", 0, 0, ""), Container: ctr("", "x"), Timeout: testMaxWait, Problem: &Problem{Reason: v1alpha1.ReasonNotInjected,
					Message: "spec.hooks.resources[0].postHooks[0].init.initContainers[0].name: init container has no name"}},
				{Key: specInitKey("h", 0, 0, "noimage"), Container: ctr("noimage", ""), Timeout: testMaxWait, Problem: &Problem{Reason: v1alpha1.ReasonNotInjected,
					Message: `spec.hooks.resources[0].postHooks[0].init.initContainers[1].image: init container "noimage" has no image`}},
				{Key: specInitKey("h", 0, 0, "app"), Container: ctr("app", "x"), Timeout: testMaxWait, Problem: &Problem{Reason: v1alpha1.ReasonNotInjected,
					Message: `spec.hooks.resources[0].postHooks[0].init.initContainers[2].name: "app" is already the name of an application container of pod app/db-0`}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := tc.spec.DeepCopy()
			got := ResolveInitHooks(tc.pod, tc.spec, testMaxWait)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ResolveInitHooks mismatch (-want +got):\n%s", diff)
			}
			// Deep copies: editing the result must leave the spec alone.
			for i := range got {
				got[i].Container.Name = "changed"
				if len(got[i].Container.Command) > 0 {
					got[i].Container.Command[0] = "changed"
				}
				if len(got[i].Container.VolumeMounts) > 0 {
					got[i].Container.VolumeMounts[0].MountPath = "/changed"
				}
			}
			if diff := cmp.Diff(before, tc.spec); diff != "" {
				t.Errorf("spec changed through the result (-before +after):\n%s", diff)
			}
		})
	}
}

func hookFor(c corev1.Container) InitHook {
	return InitHook{Key: Key{Type: v1alpha1.HookTypeInit, Container: c.Name}, Container: c}
}

func TestInjectInitContainers(t *testing.T) {
	wait := ctr(RestoreWaitContainerName, "velero-restore-helper")
	other := ctr("migrate", "app:1", "/migrate")
	h1 := ctr("h1", "alpine", "/one")
	h2 := ctr("h2", "alpine", "/two")
	tests := map[string]struct {
		existing     []corev1.Container
		hooks        []InitHook
		want         []corev1.Container
		wantInjected []string
	}{
		"no existing init containers": {
			existing: nil, hooks: []InitHook{hookFor(h1), hookFor(h2)},
			want: []corev1.Container{h1, h2}, wantInjected: []string{"h1", "h2"},
		},
		"before existing init containers, in declaration order": {
			existing: []corev1.Container{other}, hooks: []InitHook{hookFor(h2), hookFor(h1)},
			want: []corev1.Container{h2, h1, other}, wantInjected: []string{"h2", "h1"},
		},
		"after restore-wait at the front": {
			existing: []corev1.Container{wait, other}, hooks: []InitHook{hookFor(h1), hookFor(h2)},
			want: []corev1.Container{wait, h1, h2, other}, wantInjected: []string{"h1", "h2"},
		},
		"after restore-wait wherever it stands": {
			existing: []corev1.Container{other, wait, ctr("last", "x")}, hooks: []InitHook{hookFor(h1)},
			want: []corev1.Container{other, wait, h1, ctr("last", "x")}, wantInjected: []string{"h1"},
		},
		"after restore-wait at the end": {
			existing: []corev1.Container{other, wait}, hooks: []InitHook{hookFor(h1)},
			want: []corev1.Container{other, wait, h1}, wantInjected: []string{"h1"},
		},
		"restic-wait is not special": {
			existing: []corev1.Container{ctr("restic-wait", "x")}, hooks: []InitHook{hookFor(h1)},
			want: []corev1.Container{h1, ctr("restic-wait", "x")}, wantInjected: []string{"h1"},
		},
		"same name already present: skipped": {
			existing: []corev1.Container{ctr("h1", "other-image")}, hooks: []InitHook{hookFor(h1), hookFor(h2)},
			want: []corev1.Container{h2, ctr("h1", "other-image")}, wantInjected: []string{"h2"},
		},
		"same image and command under another name: skipped": {
			existing: []corev1.Container{ctr("velero-restore-init-deadbeef", "alpine", "/one")}, hooks: []InitHook{hookFor(h1)},
			want: []corev1.Container{ctr("velero-restore-init-deadbeef", "alpine", "/one")}, wantInjected: nil,
		},
		"same image and entrypoint (nil vs empty command): skipped": {
			existing: []corev1.Container{{Name: "old", Image: "alpine", Command: []string{}}}, hooks: []InitHook{hookFor(ctr("new", "alpine"))},
			want: []corev1.Container{{Name: "old", Image: "alpine", Command: []string{}}}, wantInjected: nil,
		},
		"same image, other command: injected": {
			existing: []corev1.Container{ctr("old", "alpine", "/other")}, hooks: []InitHook{hookFor(h1)},
			want: []corev1.Container{h1, ctr("old", "alpine", "/other")}, wantInjected: []string{"h1"},
		},
		"same command, other image: injected": {
			existing: []corev1.Container{ctr("old", "busybox", "/one")}, hooks: []InitHook{hookFor(h1)},
			want: []corev1.Container{h1, ctr("old", "busybox", "/one")}, wantInjected: []string{"h1"},
		},
		"same image and command, other args: injected": {
			existing: []corev1.Container{{Name: "old", Image: "alpine", Command: []string{"/one"}, Args: []string{"a"}}},
			hooks:    []InitHook{hookFor(corev1.Container{Name: "new", Image: "alpine", Command: []string{"/one"}, Args: []string{"b"}})},
			want: []corev1.Container{
				{Name: "new", Image: "alpine", Command: []string{"/one"}, Args: []string{"b"}},
				{Name: "old", Image: "alpine", Command: []string{"/one"}, Args: []string{"a"}},
			},
			wantInjected: []string{"new"},
		},
		"two hooks of one name: the first wins": {
			existing: nil, hooks: []InitHook{hookFor(h1), hookFor(ctr("h1", "busybox", "/x"))},
			want: []corev1.Container{h1}, wantInjected: []string{"h1"},
		},
		"two hooks with one program and different names: both injected": {
			existing: nil, hooks: []InitHook{hookFor(h1), hookFor(ctr("h1-again", "alpine", "/one"))},
			want: []corev1.Container{h1, ctr("h1-again", "alpine", "/one")}, wantInjected: []string{"h1", "h1-again"},
		},
		"hooks with a problem are never injected": {
			existing: []corev1.Container{other},
			hooks:    []InitHook{{Key: Key{Container: "h1"}, Container: h1, Problem: &Problem{Reason: v1alpha1.ReasonInvalidAnnotation}}, hookFor(h2)},
			want:     []corev1.Container{h2, other}, wantInjected: []string{"h2"},
		},
		"nothing to inject": {
			existing: []corev1.Container{wait, other}, hooks: nil,
			want: []corev1.Container{wait, other}, wantInjected: nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			existingBefore := deepCopyContainers(tc.existing)
			got, injected := InjectInitContainers(tc.existing, tc.hooks)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantInjected, injected); diff != "" {
				t.Errorf("injected mismatch (-want +got):\n%s", diff)
			}

			// Idempotent: injecting into the result adds nothing.
			again, injectedAgain := InjectInitContainers(got, tc.hooks)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("second injection changed the list (-first +second):\n%s", diff)
			}
			if len(injectedAgain) != 0 {
				t.Errorf("second injection injected %q", injectedAgain)
			}

			// Pure: the result shares nothing with the inputs.
			for i := range got {
				got[i].Name = "changed"
				if len(got[i].Command) > 0 {
					got[i].Command[0] = "changed"
				}
			}
			if diff := cmp.Diff(existingBefore, tc.existing); diff != "" {
				t.Errorf("existing changed through the result (-before +after):\n%s", diff)
			}
		})
	}
}

func deepCopyContainers(cs []corev1.Container) []corev1.Container {
	if cs == nil {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		cs[i].DeepCopyInto(&out[i])
	}
	return out
}

// End to end through the two functions the webhook chains: resolve, then inject.
func TestResolveThenInject(t *testing.T) {
	spec := resources(
		v1alpha1.RestoreResourceHookSpec{Name: "h1", PostHooks: []v1alpha1.RestoreResourceHook{initHook(ctr("x1", "alpine", "/x1"), ctr("x2", "alpine", "/x2"))}},
		v1alpha1.RestoreResourceHookSpec{Name: "h2", PostHooks: []v1alpha1.RestoreResourceHook{initHook(ctr("y1", "alpine", "/y1"))}},
	)
	tests := map[string]struct {
		pod          *corev1.Pod
		wantNames    []string
		wantInjected []string
	}{
		"spec hooks after restore-wait, before the pod's own": {
			pod:          newPod(withInitContainers(ctr(RestoreWaitContainerName, "helper"), ctr("own", "x"))),
			wantNames:    []string{RestoreWaitContainerName, "x1", "x2", "y1", "own"},
			wantInjected: []string{"x1", "x2", "y1"},
		},
		"annotation container only": {
			pod:          newPod(withAnnotations(InitContainerImageAnnotation, "busybox"), withInitContainers(ctr("own", "x"))),
			wantNames:    []string{DefaultInitContainerName, "own"},
			wantInjected: []string{DefaultInitContainerName},
		},
		"malformed annotation injects nothing, and spec hooks stay suppressed": {
			pod:          newPod(withAnnotations(InitContainerImageAnnotation, "busybox", InitCommandAnnotation, "[x"), withInitContainers(ctr("own", "x"))),
			wantNames:    []string{"own"},
			wantInjected: nil,
		},
		"a pod restored twice keeps one copy": {
			pod:          newPod(withInitContainers(ctr("x1", "alpine", "/x1"), ctr("x2", "alpine", "/x2"), ctr("y1", "alpine", "/y1"))),
			wantNames:    []string{"x1", "x2", "y1"},
			wantInjected: nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hooks := ResolveInitHooks(tc.pod, spec, testMaxWait)
			got, injected := InjectInitContainers(tc.pod.Spec.InitContainers, hooks)
			var names []string
			for _, c := range got {
				names = append(names, c.Name)
			}
			if diff := cmp.Diff(tc.wantNames, names); diff != "" {
				t.Errorf("init containers mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantInjected, injected); diff != "" {
				t.Errorf("injected mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindInjected(t *testing.T) {
	hookC := ctr("prep", "busybox", "true")
	own := ctr("prep", "app-migrations:2", "migrate")
	cases := map[string]struct {
		pod  *corev1.Pod
		want InjectedContainer
	}{
		"injected and recorded by the webhook": {
			pod:  newPod(withInitContainers(hookC), withAnnotations(InjectedAnnotation, `["prep"]`)),
			want: InjectedContainer{Name: "prep"},
		},
		"recorded as injected: the name counts even if the program differs": {
			pod:  newPod(withInitContainers(ctr("prep", "busybox", "old")), withAnnotations(InjectedAnnotation, `["prep"]`)),
			want: InjectedContainer{Name: "prep"},
		},
		"same program under another name (Velero injected it)": {
			pod:  newPod(withInitContainers(ctr("restore-hook-init-x1", "busybox", "true"))),
			want: InjectedContainer{Name: "restore-hook-init-x1"},
		},
		"same name, same program, not recorded: the hook's container": {
			pod:  newPod(withInitContainers(hookC)),
			want: InjectedContainer{Name: "prep"},
		},
		"the pod's own container of the hook's name: a clash": {
			pod:  newPod(withInitContainers(own)),
			want: InjectedContainer{Clash: &own},
		},
		"recorded for another name only: still a clash": {
			pod:  newPod(withInitContainers(own, ctr("other", "x")), withAnnotations(InjectedAnnotation, `["other"]`)),
			want: InjectedContainer{Clash: &own},
		},
		"unreadable record: counts as nothing recorded": {
			pod:  newPod(withInitContainers(own), withAnnotations(InjectedAnnotation, `not json`)),
			want: InjectedContainer{Clash: &own},
		},
		"absent": {
			pod:  newPod(),
			want: InjectedContainer{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, FindInjected(tc.pod, &hookC)); diff != "" {
				t.Errorf("FindInjected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusedRoundTrip(t *testing.T) {
	in := map[string]string{"b": "why b", "a": `quote " and \ backslash`}
	enc := EncodeRefused(in)
	if enc != `{"a":"quote \" and \\ backslash","b":"why b"}` {
		t.Errorf("EncodeRefused = %s, want sorted keys", enc)
	}
	got, err := DecodeRefused(enc)
	if err != nil || !cmp.Equal(got, in) {
		t.Errorf("DecodeRefused(%s) = %v, %v", enc, got, err)
	}
	if _, err := DecodeRefused("[1]"); err == nil || !strings.Contains(err.Error(), RefusedInitAnnotation) {
		t.Errorf("want an error naming the annotation, got %v", err)
	}
}
