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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// reaction measures (3): a run waits on pods whose container the benchmark brings up one at a time; each
// pod's only hook (a pod annotation, so each pod has its own command) writes `date +%s%N` to a file of
// its own. The latency of a pod is that timestamp minus the time just before the benchmark sent the
// status update that made its container Running. Pods are on the node kwok does not manage, so only the
// benchmark changes their status; their pods/exec is still served by kwok.
func (b *bench) reaction(ctx context.Context) (_ []float64, err error) {
	n := b.c.reactionPods
	ns, restoreName := "bench-reaction", "bench-reaction"
	if err := b.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	stamps := filepath.Join(b.work, "reaction-stamps")
	if err := os.MkdirAll(stamps, 0o755); err != nil {
		return nil, err
	}
	logStep("reaction: starting the manager")
	mgr, err := b.startManager(ctx, "reaction")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, mgr.stop()) }()
	if _, err := b.createRestore(ctx, restoreName); err != nil {
		return nil, err
	}
	logStep("reaction: %d pods waiting for their container", n)
	// The pods come as the pod webhook leaves them when the run takes their annotation hook over from
	// Velero (SPEC §9): created before the run, they would otherwise be Velero's to run.
	annotate := func(i int) map[string]string {
		cmd, _ := json.Marshal([]string{"/bin/sh", "-c", fmt.Sprintf("date +%%s%%N > %s/p-%05d", stamps, i)})
		taken, _ := hook.TakeOver(map[string]string{hook.ExecCommandAnnotation: string(cmd)}, ns+"/reaction")
		return taken
	}
	pods, err := b.createPods(ctx, ns, restoreName, n, annotate, b.local.Kwok.CreateUnmanagedPod)
	if err != nil {
		return nil, err
	}
	run := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reaction"},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restoreName, Namespace: veleroNS}}}
	if err := b.cl.Create(ctx, run); err != nil {
		return nil, err
	}
	// The run has a Waiting record for every pod, and the operator has nothing left to do.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := b.cl.Get(ctx, client.ObjectKeyFromObject(run), run); err != nil {
			return false, nil
		}
		return run.Status.HooksPending == int32(n) && len(run.Status.Hooks) == n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the run did not record %d waiting hooks: %w", n, err)
	}
	time.Sleep(2 * time.Second)

	logStep("reaction: bringing the pods up, %s apart", b.c.reactionInterval)
	sent := make([]time.Time, n)
	tick := time.NewTicker(b.c.reactionInterval)
	defer tick.Stop()
	for i, p := range pods {
		pod := &corev1.Pod{}
		if err := b.cl.Get(ctx, client.ObjectKey{Namespace: p.namespace, Name: p.name}, pod); err != nil {
			return nil, err
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, Image: "busybox",
			ImageID: "busybox", Ready: true, Started: ptrTo(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
		sent[i] = time.Now()
		if err := b.cl.Status().Update(ctx, pod); err != nil {
			return nil, fmt.Errorf("bringing pod %s up: %w", p.name, err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	lat := make([]float64, n)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for i := range pods {
			ns, ok := readFileInt64(filepath.Join(stamps, fmt.Sprintf("p-%05d", i)))
			if !ok {
				return false, nil
			}
			lat[i] = float64(time.Unix(0, ns).Sub(sent[i])) / float64(time.Millisecond)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("not every reaction hook ran: %w", err)
	}
	return lat, nil
}

func ptrTo[T any](v T) *T { return &v }
