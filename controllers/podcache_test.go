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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestTrimPodKeepsWhatTheEngineReads(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	started := metav1.NewTime(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	deleting := metav1.NewTime(started.Add(time.Minute))
	meta := metav1.ObjectMeta{
		Namespace: "shop", Name: "db-0", UID: "u1", ResourceVersion: "42", Generation: 1,
		CreationTimestamp: started, DeletionTimestamp: &deleting,
		Labels:          map[string]string{"velero.io/restore-name": "r1"},
		Annotations:     map[string]string{"post.hook.restore.velero.io/command": `["/bin/true"]`},
		OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "db", UID: "s1"}},
	}
	full := &corev1.Pod{
		ObjectMeta: *meta.DeepCopy(),
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			NodeName:      "node-1",
			Volumes:       []corev1.Volume{{Name: "data"}},
			Tolerations:   []corev1.Toleration{{Key: "k"}},
			InitContainers: []corev1.Container{{Name: "restore-hook-0", Image: "busybox", Command: []string{"sh"}, Args: []string{"-c", "true"},
				Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}, {Name: "proxy", Image: "envoy", RestartPolicy: &always}},
			Containers: []corev1.Container{{Name: "db", Image: "postgres", Command: []string{"postgres"},
				Env:            []corev1.EnvVar{{Name: "PGDATA", Value: "/data"}},
				VolumeMounts:   []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
				Resources:      corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 5}}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			PodIP:      "10.0.0.1", QOSClass: corev1.PodQOSBurstable, StartTime: &started,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "restore-hook-0", RestartCount: 1, ImageID: "sha256:1",
				State:                corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "db", Ready: true, Started: boolPtr(true), ContainerID: "containerd://x",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}},
		},
	}
	full.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}

	got, err := trimPod(full)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Pod{
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			InitContainers: []corev1.Container{{Name: "restore-hook-0", Image: "busybox", Command: []string{"sh"}, Args: []string{"-c", "true"}},
				{Name: "proxy", Image: "envoy", RestartPolicy: &always}},
			Containers: []corev1.Container{{Name: "db", Image: "postgres", Command: []string{"postgres"}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "restore-hook-0", RestartCount: 1,
				State:                corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "db", Ready: true, Started: boolPtr(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trimPod mismatch (-want +got):\n%s", diff)
	}

	// A tombstone of a deleted pod passes through.
	tomb := cache.DeletedFinalStateUnknown{Key: "shop/db-0"}
	if got, err := trimPod(tomb); err != nil || got != tomb {
		t.Errorf("trimPod(tombstone) = %v, %v; want it unchanged", got, err)
	}
}
func boolPtr(b bool) *bool { return &b }
