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
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BackupDone says whether Velero is finished with a Backup in this phase: it changes it no more.
func BackupDone(phase velerov1.BackupPhase) bool {
	switch phase {
	case velerov1.BackupPhaseCompleted, velerov1.BackupPhasePartiallyFailed, velerov1.BackupPhaseFailed,
		velerov1.BackupPhaseFailedValidation:
		return true
	}
	return false
}

// RestoreDone says whether Velero is finished with a Restore in this phase: its hooks have ended (Velero
// leaves Finalizing only after the exec hooks it runs) and it changes it no more.
func RestoreDone(phase velerov1.RestorePhase) bool {
	switch phase {
	case velerov1.RestorePhaseCompleted, velerov1.RestorePhasePartiallyFailed, velerov1.RestorePhaseFailed,
		velerov1.RestorePhaseFailedValidation:
		return true
	}
	return false
}

// NewBackup returns (does not create) a Backup of the namespaces to the default storage location, as
// `velero backup create NAME --include-namespaces NS --snapshot-volumes=false` makes it: no volume
// snapshots (there is no snapshotter) and no file-system backup (there is no node agent).
func (v *Velero) NewBackup(name string, namespaces ...string) *velerov1.Backup {
	return &velerov1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: v.Namespace, Name: name},
		Spec: velerov1.BackupSpec{
			IncludedNamespaces:       namespaces,
			StorageLocation:          VeleroStorageLocation,
			SnapshotVolumes:          ptr.To(false),
			DefaultVolumesToFsBackup: ptr.To(false),
			TTL:                      metav1.Duration{Duration: time.Hour},
		},
	}
}

// NewRestore returns (does not create) a Restore of the namespaces from backup, as `velero restore create
// NAME --from-backup BACKUP --include-namespaces NS` makes it. Nothing in it is about the test bed.
func (v *Velero) NewRestore(name, backup string, namespaces ...string) *velerov1.Restore {
	return &velerov1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: v.Namespace, Name: name},
		Spec:       velerov1.RestoreSpec{BackupName: backup, IncludedNamespaces: namespaces},
	}
}

// WaitBackup waits until Velero is finished with the Backup (BackupDone) and returns it, whatever its
// phase.
func (v *Velero) WaitBackup(ctx context.Context, name string, timeout time.Duration) (*velerov1.Backup, error) {
	b := &velerov1.Backup{}
	err := v.waitDone(ctx, "Backup", name, timeout, b, func() (string, bool) {
		return string(b.Status.Phase), BackupDone(b.Status.Phase)
	})
	return b, err
}

// WaitRestore waits until Velero is finished with the Restore (RestoreDone) and returns it, whatever its
// phase.
func (v *Velero) WaitRestore(ctx context.Context, name string, timeout time.Duration) (*velerov1.Restore, error) {
	r := &velerov1.Restore{}
	err := v.waitDone(ctx, "Restore", name, timeout, r, func() (string, bool) {
		return string(r.Status.Phase), RestoreDone(r.Status.Phase)
	})
	return r, err
}

func (v *Velero) waitDone(ctx context.Context, kind, name string, timeout time.Duration, obj client.Object, done func() (string, bool)) error {
	phase := ""
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := v.Client.Get(ctx, client.ObjectKey{Namespace: v.Namespace, Name: name}, obj); err != nil {
			return false, fmt.Errorf("reading %s %s/%s: %w", kind, v.Namespace, name, err)
		}
		p, ok := done()
		phase = p
		if ok {
			return true, nil
		}
		// A server that died never finishes it: say so now rather than at the timeout.
		return false, v.exitedErr()
	})
	if err != nil {
		if phase == "" {
			phase = "no phase yet"
		}
		return fmt.Errorf("velero %s %s/%s not finished after %s (%s): %w\n%s", kind, v.Namespace, name, timeout, phase, err, v.LogTail(4096))
	}
	return nil
}

// Backup creates a Backup of the namespaces (NewBackup) and waits until it is Completed; any other end
// is an error that says what Velero reported.
func (v *Velero) Backup(ctx context.Context, name string, timeout time.Duration, namespaces ...string) (*velerov1.Backup, error) {
	if err := v.Client.Create(ctx, v.NewBackup(name, namespaces...)); err != nil {
		return nil, fmt.Errorf("creating Backup %s/%s: %w", v.Namespace, name, err)
	}
	b, err := v.WaitBackup(ctx, name, timeout)
	if err != nil {
		return b, err
	}
	if b.Status.Phase != velerov1.BackupPhaseCompleted {
		return b, fmt.Errorf("velero Backup %s/%s ended %s, want Completed: %s\n%s", v.Namespace, name, b.Status.Phase,
			backupProblems(b), v.LogTail(4096))
	}
	return b, nil
}

// Restore creates r and waits until Velero is finished with it (RestoreDone); it returns the Restore
// whatever its phase, so a test asserts on the phase and hookStatus itself.
func (v *Velero) Restore(ctx context.Context, r *velerov1.Restore, timeout time.Duration) (*velerov1.Restore, error) {
	if r.Namespace == "" {
		r.Namespace = v.Namespace
	}
	if err := v.Client.Create(ctx, r); err != nil {
		return nil, fmt.Errorf("creating Restore %s/%s: %w", r.Namespace, r.Name, err)
	}
	return v.WaitRestore(ctx, r.Name, timeout)
}

// backupProblems renders what Velero's status says went wrong with a Backup.
func backupProblems(b *velerov1.Backup) string {
	var parts []string
	if b.Status.FailureReason != "" {
		parts = append(parts, "failureReason "+b.Status.FailureReason)
	}
	if len(b.Status.ValidationErrors) > 0 {
		parts = append(parts, "validationErrors "+strings.Join(b.Status.ValidationErrors, "; "))
	}
	parts = append(parts, fmt.Sprintf("errors %d, warnings %d", b.Status.Errors, b.Status.Warnings))
	return strings.Join(parts, ", ")
}

// RestoreSummary renders Velero's own view of a Restore in one line: phase, hookStatus (zero counters
// are omitted by Velero and shown as 0 here), items, errors and warnings.
func RestoreSummary(r *velerov1.Restore) string {
	var attempted, failed int
	if h := r.Status.HookStatus; h != nil {
		attempted, failed = h.HooksAttempted, h.HooksFailed
	}
	s := fmt.Sprintf("phase %s, hookStatus hooksAttempted %d hooksFailed %d", r.Status.Phase, attempted, failed)
	if p := r.Status.Progress; p != nil {
		s += fmt.Sprintf(", items restored %d/%d", p.ItemsRestored, p.TotalItems)
	}
	s += fmt.Sprintf(", errors %d, warnings %d", r.Status.Errors, r.Status.Warnings)
	if r.Status.FailureReason != "" {
		s += ", failureReason " + r.Status.FailureReason
	}
	if len(r.Status.ValidationErrors) > 0 {
		s += ", validationErrors " + strings.Join(r.Status.ValidationErrors, "; ")
	}
	return s
}
