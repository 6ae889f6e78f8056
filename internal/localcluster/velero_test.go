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

package localcluster_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"golang.org/x/mod/modfile"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// TestVeleroVersionsMatchToolsModule: the Makefile builds what hack/velero/go.mod requires, and the test
// bed looks for bin/velero-<VeleroVersion>; a bump in one place only would make every run fail to find
// its binary.
func TestVeleroVersionsMatchToolsModule(t *testing.T) {
	path := filepath.Join(localcluster.RepoRoot(), "hack", "velero", "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range mf.Require {
		if !r.Indirect {
			got[r.Mod.Path] = r.Mod.Version
		}
	}
	want := map[string]string{
		localcluster.VeleroModule:                       localcluster.VeleroVersion,
		"github.com/vmware-tanzu/velero-plugin-for-aws": localcluster.VeleroPluginAWSVersion,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s requires (-constants in velero.go +go.mod):\n%s", path, diff)
	}
	kopia := false
	for _, r := range mf.Replace {
		kopia = kopia || r.Old.Path == "github.com/kopia/kopia"
	}
	if !kopia {
		t.Errorf("%s lacks Velero's replace of github.com/kopia/kopia; Velero's server does not build without it", path)
	}
}

func TestVeleroBinaryMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "velero-none")
	t.Setenv("VELERO_BIN", missing)
	_, err := localcluster.VeleroBinary()
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "make velero") {
		t.Errorf("VeleroBinary() with $VELERO_BIN=%s: error %v, want one naming the file and 'make velero'", missing, err)
	}
}

func TestDonePhases(t *testing.T) {
	backups := map[velerov1.BackupPhase]bool{
		velerov1.BackupPhaseNew: false, velerov1.BackupPhaseInProgress: false, velerov1.BackupPhaseFinalizing: false,
		velerov1.BackupPhaseWaitingForPluginOperations: false, velerov1.BackupPhaseDeleting: false, "": false,
		velerov1.BackupPhaseCompleted: true, velerov1.BackupPhasePartiallyFailed: true, velerov1.BackupPhaseFailed: true,
		velerov1.BackupPhaseFailedValidation: true,
	}
	for phase, want := range backups {
		if got := localcluster.BackupDone(phase); got != want {
			t.Errorf("BackupDone(%q) = %v, want %v", phase, got, want)
		}
	}
	restores := map[velerov1.RestorePhase]bool{
		velerov1.RestorePhaseNew: false, velerov1.RestorePhaseInProgress: false, velerov1.RestorePhaseFinalizing: false,
		velerov1.RestorePhaseFinalizingPartiallyFailed: false, velerov1.RestorePhaseWaitingForPluginOperations: false, "": false,
		velerov1.RestorePhaseCompleted: true, velerov1.RestorePhasePartiallyFailed: true, velerov1.RestorePhaseFailed: true,
		velerov1.RestorePhaseFailedValidation: true,
	}
	for phase, want := range restores {
		if got := localcluster.RestoreDone(phase); got != want {
			t.Errorf("RestoreDone(%q) = %v, want %v", phase, got, want)
		}
	}
}

func TestRestoreSummary(t *testing.T) {
	tests := map[string]struct {
		status velerov1.RestoreStatus
		want   string
	}{
		"no hookStatus reads as zero counters": {
			status: velerov1.RestoreStatus{Phase: velerov1.RestorePhaseCompleted},
			want:   "phase Completed, hookStatus hooksAttempted 0 hooksFailed 0, errors 0, warnings 0",
		},
		"counters, progress and failure": {
			status: velerov1.RestoreStatus{Phase: velerov1.RestorePhasePartiallyFailed,
				HookStatus: &velerov1.HookStatus{HooksAttempted: 2, HooksFailed: 1},
				Progress:   &velerov1.RestoreProgress{TotalItems: 3, ItemsRestored: 3}, Errors: 1, Warnings: 2,
				FailureReason: "boom", ValidationErrors: []string{"a", "b"}},
			want: "phase PartiallyFailed, hookStatus hooksAttempted 2 hooksFailed 1, items restored 3/3, errors 1, warnings 2, " +
				"failureReason boom, validationErrors a; b",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := localcluster.RestoreSummary(&velerov1.Restore{Status: tc.status})
			if got != tc.want {
				t.Errorf("RestoreSummary = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestObjectStore: the bucket exists from the start and serves path-style S3 requests; what is put is
// listed; an unknown bucket is a 404; Stop closes the port.
func TestObjectStore(t *testing.T) {
	s, err := localcluster.StartObjectStore("velero")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop()
		}
	})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s, want one on 127.0.0.1", s.URL)
	}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	if code, body := do(http.MethodGet, "/velero", ""); code != http.StatusOK || !strings.Contains(body, "<Name>velero</Name>") {
		t.Errorf("GET /velero: %d %s, want 200 with the bucket's listing", code, body)
	}
	if code, _ := do(http.MethodPut, "/velero/backups/b1/velero-backup.json", "{}"); code != http.StatusOK {
		t.Errorf("PUT an object: %d, want 200", code)
	}
	if code, body := do(http.MethodGet, "/velero/backups/b1/velero-backup.json", ""); code != http.StatusOK || body != "{}" {
		t.Errorf("GET the object: %d %q, want 200 {}", code, body)
	}
	if code, _ := do(http.MethodGet, "/other", ""); code != http.StatusNotFound {
		t.Errorf("GET /other: %d, want 404 (no such bucket)", code)
	}
	keys, err := s.Objects("backups/b1/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"backups/b1/velero-backup.json"}, keys); diff != "" {
		t.Errorf("Objects (-want +got):\n%s", diff)
	}
	if keys, err := s.Objects("backups/b2/"); err != nil || len(keys) != 0 {
		t.Errorf("Objects(backups/b2/) = %v, %v; want none", keys, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := http.Get(s.URL + "/velero"); err == nil {
		t.Errorf("the store still answers after Stop")
	}
}

// TestPodBinderAndDeleteNamespace covers the two stand-ins for kube-controller-manager and
// kube-scheduler that a Velero restore needs here: an unscheduled pod gets bound to kwok's node and runs,
// a pod for another scheduler is left alone, and a deleted namespace goes away with its pods, so the same
// names can be created again (as Velero's restore does).
func TestPodBinderAndDeleteNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := localcluster.StartLocal(ctx, localcluster.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Stop(); err != nil {
			t.Errorf("stopping: %v", err)
		}
	})
	b, err := localcluster.StartPodBinder(ctx, l.Config, l.Kwok.ManagedNode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	c := l.Kwok.Client

	ns := "binder"
	create := func(name, scheduler string) *corev1.Pod {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.PodSpec{SchedulerName: scheduler, Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	pending := create("pending", "")
	other := create("other-scheduler", "my-scheduler")
	if err := l.Kwok.WaitPodRunning(ctx, pending, time.Minute); err != nil {
		t.Fatal(err)
	}
	if pending.Spec.NodeName != l.Kwok.ManagedNode {
		t.Errorf("pod bound to %q, want %q", pending.Spec.NodeName, l.Kwok.ManagedNode)
	}
	if diff := cmp.Diff([]string{ns + "/pending"}, b.Bound()); diff != "" {
		t.Errorf("Bound (-want +got):\n%s", diff)
	}
	if err := b.Err(); err != nil {
		t.Error(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(other), other); err != nil {
		t.Fatal(err)
	}
	if other.Spec.NodeName != "" {
		t.Errorf("a pod for scheduler my-scheduler was bound to %s; only the default scheduler's pods are ours", other.Spec.NodeName)
	}

	start := time.Now()
	if err := localcluster.DeleteNamespace(ctx, l.Config, ns, time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("namespace deleted in %s", time.Since(start).Round(time.Millisecond))
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after DeleteNamespace: %v, want NotFound", ns, err)
	}
	// No orphan left in etcd: the same pod can be created again in a new namespace of the same name.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	again := create("pending", "")
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return len(b.Bound()) == 2, nil
	})
	if err != nil {
		t.Fatalf("the recreated pod was not bound: %v (bound %v)", err, b.Bound())
	}
	if err := l.Kwok.WaitPodRunning(ctx, again, time.Minute); err != nil {
		t.Fatal(err)
	}
}
