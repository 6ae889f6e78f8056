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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// TestKwok checks what the end-to-end tests rely on: a pod on the managed node goes Running by itself;
// a pod on the unmanaged node keeps the status written for it; pods/exec into either runs locally, and
// a non-zero exit comes back with its code.
func TestKwok(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// envtest and kwok started separately (StartLocal does both; the e2e suite uses it), to time each.
	env, err := localcluster.NewEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	t.Logf("envtest up in %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	k, err := localcluster.StartKwok(ctx, cfg, localcluster.KwokOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Errorf("stopping kwok: %v", err)
		}
	})
	t.Logf("kwok up (CRDs, ClusterExec, process, nodes Ready) in %s", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(k.Kubeconfig); err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kwok-smoke"}}
	if err := k.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	newPod := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
		}
	}

	managed := newPod("managed")
	t0 := time.Now()
	if err := k.RunManagedPod(ctx, managed, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("managed pod Running in %s", time.Since(t0).Round(time.Millisecond))

	unmanaged := newPod("unmanaged")
	if err := k.CreateUnmanagedPod(ctx, unmanaged); err != nil {
		t.Fatal(err)
	}
	if err := k.SetContainersRunning(ctx, unmanaged, true, "b"); err != nil {
		t.Fatal(err)
	}
	// Nobody may overwrite what was written: give kwok a moment to (wrongly) act on it.
	time.Sleep(time.Second)
	if err := k.Client.Get(ctx, client.ObjectKeyFromObject(unmanaged), unmanaged); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, cs := range unmanaged.Status.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			states[cs.Name] = "Running"
		case cs.State.Waiting != nil:
			states[cs.Name] = "Waiting:" + cs.State.Waiting.Reason
		}
	}
	if unmanaged.Status.Phase != corev1.PodRunning || states["a"] != "Waiting:ContainerCreating" || states["b"] != "Running" {
		t.Fatalf("unmanaged pod: phase %s, containers %v; want Running, a Waiting, b Running", unmanaged.Status.Phase, states)
	}

	ex, err := exec.NewRemoteExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	for _, pod := range []*corev1.Pod{managed, unmanaged} {
		res := ex.Exec(ctx, exec.Request{Namespace: ns.Name, Pod: pod.Name, Container: "b", Timeout: 10 * time.Second,
			RecordOutput: true, Command: []string{"/bin/sh", "-c", "echo " + pod.Name + " >> " + out + "; pwd"}})
		if !res.Succeeded() {
			t.Fatalf("exec in %s: %+v", pod.Name, res)
		}
		if got := strings.TrimSpace(res.Stdout); got != k.WorkDir {
			t.Errorf("exec in %s ran in %q, want kwok's work dir %q", pod.Name, got, k.WorkDir)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); got != "managed\nunmanaged\n" {
		t.Errorf("file written by the exec'd commands = %q, want both pods' lines in order", got)
	}

	res := ex.Exec(ctx, exec.Request{Namespace: ns.Name, Pod: managed.Name, Container: "a", Timeout: 10 * time.Second,
		RecordOutput: true, Command: []string{"/bin/sh", "-c", "echo oops >&2; exit 3"}})
	if res.ExitCode != 3 || !strings.Contains(res.Stderr, "oops") {
		t.Errorf("exit 3: got %+v, want ExitCode 3 and stderr oops", res)
	}
}
