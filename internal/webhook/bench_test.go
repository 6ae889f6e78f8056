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

package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// BenchmarkPodMutatorFinishedRuns measures one restored pod's admission by the pod mutator while the
// cluster holds many finished RestoreHookRuns of earlier restores, each with a status of about 800 KiB
// (issue 19 item 3), on a real API server and the manager's kind of informer cache (field index by
// restore label, managedFields stripped). After the timed loop it admits 1,000 distinct pods of the
// live restore one after the other, as Velero creates them, and reports their latency percentiles.
//
// It needs the envtest control plane (make envtest); it is skipped without one. Run it with
//
//	go test ./internal/webhook/ -run '^$' -bench BenchmarkPodMutator -benchmem
func BenchmarkPodMutatorFinishedRuns(b *testing.B) {
	if _, err := os.Stat(localcluster.AssetsDir() + "/kube-apiserver"); err != nil {
		b.Skip("no envtest control plane (make envtest)")
	}
	const finishedRuns, recordsPerRun, admissions = 100, 700, 1000
	logf.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	env, err := localcluster.NewEnvironment()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	s := testScheme(b)
	direct, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{"velero", "app"} {
		if err := direct.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			b.Fatal(err)
		}
	}

	// Finished runs of earlier restores, each with a status near the 1 MiB bound.
	tail := strings.Repeat("x", 1000)
	var size int
	for i := range finishedRuns {
		run := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: fmt.Sprintf("old-%03d", i)},
			Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: fmt.Sprintf("restore-%03d", i)}}}
		if err := direct.Create(ctx, run); err != nil {
			b.Fatal(err)
		}
		run.Status.Phase = v1alpha1.RunPhaseCompleted
		for j := range recordsPerRun {
			run.Status.Hooks = append(run.Status.Hooks, v1alpha1.HookRecord{
				Pod: fmt.Sprintf("app/pod-%04d", j), PodUID: types.UID(fmt.Sprintf("uid-%04d", j)), Container: "app",
				Hook: "warm", Source: v1alpha1.HookSourceSpec, Type: v1alpha1.HookTypeExec,
				Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1, Message: "command completed", Stdout: tail})
		}
		if err := direct.Status().Update(ctx, run); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			raw, err := json.Marshal(run)
			if err != nil {
				b.Fatal(err)
			}
			size = len(raw)
		}
	}
	// The live run: one init hook for the restore whose pods are being created.
	live := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "live"},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "live-restore"},
			Hooks: v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{{Name: "prep",
				PostHooks: []v1alpha1.RestoreResourceHook{{Init: &v1alpha1.InitRestoreHook{
					InitContainers: []corev1.Container{{Name: "prep", Image: "busybox", Command: []string{"true"}}}}}}}}}}}
	if err := direct.Create(ctx, live); err != nil {
		b.Fatal(err)
	}

	// The manager's cache, with the same run index the reconciler registers.
	c, err := cache.New(cfg, cache.Options{Scheme: s, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.IndexField(ctx, &v1alpha1.RestoreHookRun{}, testRunIndex, func(o client.Object) []string {
		return []string{label.GetValidName(o.(*v1alpha1.RestoreHookRun).Spec.RestoreRef.Name)}
	}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("cache did not sync")
	}
	m := newMutator(b, c)
	// Warm the informers the mutator reads through (runs, and whatever else it reads) before timing.
	if resp := m.Handle(ctx, podRequest(b, labelledPod("live-restore"))); !resp.Allowed || len(resp.Patches) == 0 {
		b.Fatalf("the live run's init hook was not injected: %+v", resp)
	}
	req := podRequest(b, labelledPod("live-restore"))
	b.ResetTimer()
	for b.Loop() {
		if resp := m.Handle(ctx, req); !resp.Allowed || len(resp.Patches) == 0 {
			b.Fatalf("not injected: %+v", resp)
		}
	}
	b.StopTimer()

	lat := make([]time.Duration, 0, admissions)
	for i := range admissions {
		p := labelledPod("live-restore")
		p.Name = fmt.Sprintf("restored-%04d", i)
		r := podRequest(b, p)
		start := time.Now()
		resp := m.Handle(ctx, r)
		lat = append(lat, time.Since(start))
		if !resp.Allowed || len(resp.Patches) == 0 {
			b.Fatalf("pod %d not injected: %+v", i, resp)
		}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(size)/1024, "KiB/finished-run")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms/admission@1000pods")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms/admission@1000pods")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms/admission@1000pods")
}
