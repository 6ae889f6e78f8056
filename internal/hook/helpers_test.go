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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// podOption edits a test pod.
type podOption func(*corev1.Pod)

// newPod builds pod app/db-0 with the named application containers (default: one named "app").
func newPod(opts ...podOption) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "db-0", Labels: map[string]string{"app": "postgres"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "postgres:16"}}},
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

func inNamespace(ns string) podOption { return func(p *corev1.Pod) { p.Namespace = ns } }

func withLabels(l map[string]string) podOption { return func(p *corev1.Pod) { p.Labels = l } }

func withAnnotations(kv ...string) podOption {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func withContainers(names ...string) podOption {
	return func(p *corev1.Pod) {
		p.Spec.Containers = nil
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: n + ":1"})
		}
	}
}

func withInitContainers(cs ...corev1.Container) podOption {
	return func(p *corev1.Pod) { p.Spec.InitContainers = append(p.Spec.InitContainers, cs...) }
}

func sidecar(name string) corev1.Container {
	return corev1.Container{Name: name, Image: name + ":1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// execHook is a spec post hook with an exec command.
func execHook(container string, command ...string) v1alpha1.RestoreResourceHook {
	return v1alpha1.RestoreResourceHook{Exec: &v1alpha1.ExecRestoreHook{Container: container, Command: command}}
}

// initHook is a spec post hook injecting the given containers.
func initHook(cs ...corev1.Container) v1alpha1.RestoreResourceHook {
	return v1alpha1.RestoreResourceHook{Init: &v1alpha1.InitRestoreHook{InitContainers: cs}}
}

func resources(rs ...v1alpha1.RestoreResourceHookSpec) *v1alpha1.RestoreHookRunSpec {
	return &v1alpha1.RestoreHookRunSpec{
		RestoreRef: v1alpha1.RestoreReference{Name: "r1"},
		Hooks:      v1alpha1.RestoreHooks{Resources: rs},
	}
}

func ignoreAnnotations(spec *v1alpha1.RestoreHookRunSpec) *v1alpha1.RestoreHookRunSpec {
	spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
	return spec
}
