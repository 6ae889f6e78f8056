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
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// takenOver returns annotations as the pod webhook leaves them when run takes their exec hook over.
func takenOver(run string, annotations map[string]string) map[string]string {
	out, _ := hook.TakeOver(annotations, run)
	return out
}

// newDirectReconciler returns a reconciler over a fake client with the indexes the manager would set
// up, so a test can call Reconcile itself and look at the reconciler's per-run state.
func newDirectReconciler(t *testing.T, ex exec.Executor, objs ...client.Object) (*RestoreHookRunReconciler, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, velerov1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	r := &RestoreHookRunReconciler{Scheme: scheme, Exec: ex, Options: Options{VeleroNamespace: "velero"}}
	r.setDefaults()
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&v1alpha1.RestoreHookRun{}).
		WithIndex(&corev1.Pod{}, podRestoreIndex, podRestoreIndexValue).
		WithIndex(&v1alpha1.RestoreHookRun{}, runRestoreLabelIndex, runRestoreLabelIndexValue).
		WithIndex(&v1alpha1.RestoreHookRun{}, runRestoreIndex, r.runRestoreIndexValue).
		WithObjects(objs...).Build()
	r.Client = c
	return r, c
}

func directRun(name string, uid types.UID, restore string) *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: name, UID: uid, CreationTimestamp: metav1.Now()},
		Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore}},
	}
}

func reconcileOnce(t *testing.T, r *RestoreHookRunReconciler, name string) {
	t.Helper()
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "velero", Name: name}}); err != nil {
		t.Fatalf("Reconcile %s: %v", name, err)
	}
}

// Issue 19 (7): a run deleted while unfinished is forgotten: the runs gauge stops counting it and the
// reconciler keeps no per-run state for it.
func TestDeletedRunsAreForgotten(t *testing.T) {
	const n = 100
	var objs []client.Object
	for i := range n {
		objs = append(objs, directRun(fmt.Sprintf("run-%d", i), types.UID(fmt.Sprintf("uid-%d", i)), "no-such-restore"))
	}
	r, c := newDirectReconciler(t, &exec.Fake{}, objs...)
	pendingBefore := testutil.ToFloat64(runsGauge.WithLabelValues(string(v1alpha1.RunPhasePending)))
	for i := range n {
		reconcileOnce(t, r, fmt.Sprintf("run-%d", i))
	}
	if got := testutil.ToFloat64(runsGauge.WithLabelValues(string(v1alpha1.RunPhasePending))) - pendingBefore; got != n {
		t.Fatalf("runs gauge counts %v more Pending runs after %d passes, want %d", got, n, n)
	}
	for i := range n {
		name := fmt.Sprintf("run-%d", i)
		if err := c.Delete(context.Background(), directRun(name, "", "")); err != nil {
			t.Fatalf("deleting %s: %v", name, err)
		}
		reconcileOnce(t, r, name)
	}
	if got := testutil.ToFloat64(runsGauge.WithLabelValues(string(v1alpha1.RunPhasePending))) - pendingBefore; got != 0 {
		t.Errorf("runs gauge still counts %v deleted Pending runs", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lastWrite) != 0 || len(r.latest) != 0 || len(r.suppressed) != 0 || len(r.uids) != 0 {
		t.Errorf("per-run state kept after deletion: lastWrite %d, latest %d, suppressed %d, uids %d",
			len(r.lastWrite), len(r.latest), len(r.suppressed), len(r.uids))
	}
	r.phases.mu.Lock()
	defer r.phases.mu.Unlock()
	if len(r.phases.phases) != 0 {
		t.Errorf("runs gauge keeps %d deleted runs", len(r.phases.phases))
	}
}

// Issue 19 (6): a run deleted and created again under the same name before the reconciler saw the
// deletion (kubectl replace --force) must not leave the old run's execs going.
func TestReplacedRunCancelsTheOldRunsExecs(t *testing.T) {
	restore := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "r1"},
		Status: velerov1.RestoreStatus{Phase: velerov1.RestorePhaseInProgress}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "db-0", UID: "pod-uid",
			CreationTimestamp: metav1.Now(),
			Labels:            map[string]string{velerov1.RestoreNameLabel: label.GetValidName("r1")},
			Annotations:       takenOver("velero/hooks", map[string]string{hook.ExecCommandAnnotation: `["/bin/sleep","600"]`})},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "busybox"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "db", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}},
	}
	f := &exec.Fake{}
	release := f.Block(exec.Key("app", "db-0", "db", "/bin/sleep", "600"))
	defer release()
	r, c := newDirectReconciler(t, f, restore, pod, directRun("hooks", "old-uid", "r1"))

	reconcileOnce(t, r, "hooks")
	deadline := time.Now().Add(10 * time.Second)
	for len(f.Calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the old run's hook was never sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !r.dispatch.busy("old-uid") {
		t.Fatal("the old run's hook is not in flight")
	}

	// Deleted and created again between two passes: one request covers both.
	if err := c.Delete(context.Background(), directRun("hooks", "", "")); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), directRun("hooks", "new-uid", "other-restore")); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r, "hooks")
	deadline = time.Now().Add(5 * time.Second)
	for r.dispatch.busy("old-uid") {
		if time.Now().After(deadline) {
			t.Fatal("the replaced run's exec is still going 5 s after the new run was reconciled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
