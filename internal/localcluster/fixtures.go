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

package localcluster

import (
	"context"
	"fmt"
	"maps"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewRestore creates a Velero Restore with a generated name in namespace, InProgress as Velero has it
// while it creates pods.
func NewRestore(ctx context.Context, c client.Client, namespace string) (*velerov1.Restore, error) {
	r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "r-" + rand.String(6)},
		Spec: velerov1.RestoreSpec{BackupName: "nightly"}}
	if err := c.Create(ctx, r); err != nil {
		return nil, fmt.Errorf("creating Restore: %w", err)
	}
	return r, SetRestorePhase(ctx, c, r, velerov1.RestorePhaseInProgress)
}

// SetRestorePhase writes a Restore's phase as Velero does: Velero's Restore CRD has no status
// subresource, so the whole object is updated.
func SetRestorePhase(ctx context.Context, c client.Client, r *velerov1.Restore, phase velerov1.RestorePhase) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(r), r); err != nil {
			return err
		}
		r.Status.Phase = phase
		return c.Update(ctx, r)
	})
}

// RestoredPod returns (does not create) a pod labelled as restored by r, as Velero labels it, with
// busybox containers of the given names.
func RestoredPod(namespace, name string, r *velerov1.Restore, labels, annotations map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Annotations: annotations,
		Labels: map[string]string{velerov1.RestoreNameLabel: r.Name},
	}}
	maps.Copy(p.Labels, labels)
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	return p
}
