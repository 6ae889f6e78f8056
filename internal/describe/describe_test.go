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

package describe

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// t0 is when the fixture runs started; now is when they are described.
var (
	t0  = time.Date(2026, 11, 22, 5, 22, 43, 0, time.UTC)
	now = t0.Add(5 * time.Minute)
)

func at(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }

// demoRun is the run `make run-local` ends with: one hook failed under onError Continue.
func demoRun() *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "demo-hooks", Generation: 1,
			CreationTimestamp: metav1.Time{Time: t0.Add(-time.Second)}},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "demo-restore"}},
		Status: v1alpha1.RestoreHookRunStatus{
			ObservedGeneration: 1, Phase: v1alpha1.RunPhasePartiallyFailed, RestorePhase: "Completed",
			StartTime: at(0), CompletionTime: at(3 * time.Second),
			HooksAttempted: 6, HooksFailed: 1, HooksSucceeded: 5, PodsInScope: 3, Summary: "5/6",
			Conditions: []metav1.Condition{
				{Type: "Completed", Status: "True", Reason: "PartiallyFailed", Message: "1 hook failed or skipped"},
				{Type: "Degraded", Status: "True", Reason: "HooksFailed",
					Message: "1 hook failed, 0 skipped: shop/cache-0 redis/cache-warmup NonZeroExit"},
			},
			Hooks: []v1alpha1.HookRecord{
				{Pod: "shop/legacy-app", Container: "restore-hook-init", Hook: v1alpha1.AnnotationHookName,
					Source: v1alpha1.HookSourceAnnotation, Type: v1alpha1.HookTypeInit, Phase: v1alpha1.HookPhaseSucceeded,
					Attempts: 1, ExitCode: ptr.To[int32](0), StartTime: at(0), CompletionTime: at(2 * time.Second),
					Message: "init container restore-hook-init completed"},
				{Pod: "shop/legacy-app", Container: "main-app", Hook: v1alpha1.AnnotationHookName,
					Source: v1alpha1.HookSourceAnnotation, Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSucceeded,
					Attempts: 1, ExitCode: ptr.To[int32](0), StartTime: at(2 * time.Second), CompletionTime: at(2 * time.Second),
					Stdout: "{\"database\": \"restored\"}\n"},
				{Pod: "shop/postgres-0", Container: "postgres", Hook: "postgres-restore", Source: v1alpha1.HookSourceSpec,
					Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1, ExitCode: ptr.To[int32](0),
					StartTime: at(0), CompletionTime: at(time.Second), Stdout: "postgres:5432 - accepting connections\n"},
				{Pod: "shop/postgres-0", Container: "postgres", Hook: "postgres-restore", Index: 1, Source: v1alpha1.HookSourceSpec,
					Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1, ExitCode: ptr.To[int32](0),
					StartTime: at(time.Second), CompletionTime: at(time.Second), Stdout: "COPY 42\n"},
				{Pod: "shop/postgres-0", Container: "sidecar", Hook: "postgres-restore", Index: 2, Source: v1alpha1.HookSourceSpec,
					Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1, ExitCode: ptr.To[int32](0),
					StartTime: at(time.Second), CompletionTime: at(2 * time.Second), Stdout: "sidecar unpaused\n"},
				{Pod: "shop/cache-0", Container: "redis", Hook: "cache-warmup", ResourceIndex: 1, Source: v1alpha1.HookSourceSpec,
					Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseFailed, Reason: v1alpha1.ReasonNonZeroExit,
					Attempts: 1, ExitCode: ptr.To[int32](3), StartTime: at(0), CompletionTime: at(0),
					Message: "command terminated with exit code 3",
					Stdout:  "warming cache from dump.rdb\n", Stderr: "dump.rdb: no such file\n"},
			},
		},
	}
}

// runningRun is half way: hooks running, waiting for their container, and waiting their turn.
func runningRun() *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "nightly-hooks", Generation: 2,
			CreationTimestamp: metav1.Time{Time: t0}},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "nightly-20261122", Namespace: "velero"}},
		Status: v1alpha1.RestoreHookRunStatus{
			ObservedGeneration: 1, Phase: v1alpha1.RunPhaseRunning, RestorePhase: "InProgress", StartTime: at(0),
			HooksAttempted: 4, HooksSucceeded: 1, HooksPending: 3, PodsInScope: 2, Summary: "1/4",
			Conditions: []metav1.Condition{
				{Type: "Completed", Status: "False", Reason: "InProgress", Message: "3 hooks outstanding; Restore phase \"InProgress\""},
				{Type: "Degraded", Status: "False", Reason: "NoFailures", Message: "no hook has failed"},
			},
			Hooks: []v1alpha1.HookRecord{
				{Pod: "app/web-1", Container: "nginx", Hook: "warm", Source: v1alpha1.HookSourceSpec, Type: v1alpha1.HookTypeExec,
					Phase: v1alpha1.HookPhasePending},
				{Pod: "app/db-0", Container: "postgres", Hook: "load", Index: 1, Source: v1alpha1.HookSourceSpec,
					Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseRunning, Attempts: 2, StartTime: at(4 * time.Minute)},
				{Pod: "app/db-0", Container: "postgres", Hook: "load", Source: v1alpha1.HookSourceSpec, Type: v1alpha1.HookTypeExec,
					Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1, ExitCode: ptr.To[int32](0), StartTime: at(time.Second),
					CompletionTime: at(2*time.Minute + 5*time.Second)},
				{Pod: "app/web-0", Container: "nginx", Hook: "warm", Source: v1alpha1.HookSourceSpec, Type: v1alpha1.HookTypeExec,
					Phase: v1alpha1.HookPhaseWaiting, Message: "waiting for container nginx to be Running"},
			},
		},
	}
}

// orderedRun orders its entries (dependsOn) and runs a migration in one pod (singlePod): describe lists
// the dependencies, and the held hook says what it waits for.
func orderedRun() *v1alpha1.RestoreHookRun {
	run := runningRun()
	run.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{
		{Name: "load"},
		{Name: "migrate", DependsOn: []string{"load"}, SinglePod: true},
		{Name: "warm", DependsOn: []string{"migrate", "load"}},
	}
	run.Status.Hooks[0].Phase, run.Status.Hooks[0].Reason = v1alpha1.HookPhaseWaiting, v1alpha1.ReasonWaitingForDependency
	run.Status.Hooks[0].Message = `waiting for entry "migrate": 1 hook not ended yet`
	return run
}

// foldedRun has so many pods that succeeded records were folded, very long names, a long multi-line
// message, and more failures than describe lists messages for.
func foldedRun() *v1alpha1.RestoreHookRun {
	run := &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "big-restore-hooks", Generation: 1},
		Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "big-restore"}},
		Status: v1alpha1.RestoreHookRunStatus{
			ObservedGeneration: 1, Phase: v1alpha1.RunPhasePartiallyFailed, RestorePhase: "Completed",
			StartTime: at(0), CompletionTime: at(87 * time.Second),
			HooksAttempted: 10000, HooksSucceeded: 9974, HooksFailed: 25, HooksSkipped: 1, PodsInScope: 5000,
			HooksOmitted: 9972, HooksOmittedFailed: 2, FoldedPods: make([]types.UID, 4987), Summary: "9974/10000",
			AbortedBy: "tenant-a/batch-0: hook flush[0.0] in container worker failed with onError Fail",
			Conditions: []metav1.Condition{
				{Type: "Completed", Status: "True", Reason: "PartiallyFailed", Message: "26 hooks failed or skipped"},
				{Type: "Degraded", Status: "True", Reason: "HooksFailed",
					Message: "25 hooks failed, 1 skipped: " + strings.Repeat("tenant-a/batch-0 worker/flush NonZeroExit; ", 10)},
			},
		},
	}
	long := "tenant-a/" + strings.Repeat("very-long-statefulset-name-", 8) + "0"
	run.Status.Hooks = append(run.Status.Hooks,
		v1alpha1.HookRecord{Pod: long, Container: strings.Repeat("c", 60), Hook: strings.Repeat("hook-spec-", 6) + "end",
			Source: v1alpha1.HookSourceSpec, Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1,
			ExitCode: ptr.To[int32](0), StartTime: at(0), CompletionTime: at(time.Hour + 2*time.Minute)},
		v1alpha1.HookRecord{Pod: long, Container: "app", Hook: "flush", Index: 1, Source: v1alpha1.HookSourceSpec,
			Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSkipped, Reason: v1alpha1.ReasonAbortedByFailPolicy,
			Message: "skipped: tenant-a/batch-0 worker/flush[0] failed with onError Fail"},
	)
	for i := range 23 {
		run.Status.Hooks = append(run.Status.Hooks, v1alpha1.HookRecord{
			Pod: fmt.Sprintf("tenant-a/batch-%d", i), Container: "worker", Hook: "flush", Source: v1alpha1.HookSourceSpec,
			Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseFailed, Reason: v1alpha1.ReasonExecTimeout, Attempts: 3,
			StartTime: at(time.Second), CompletionTime: at(91 * time.Second),
			Message: "command did not finish within execTimeout 30s\n(attempt 3 of 3)\t" + strings.Repeat("x", 200)})
	}
	return run
}

// emptyRun has no status yet: the operator has not seen it.
func emptyRun() *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "fresh", CreationTimestamp: metav1.Time{Time: now.Add(-2 * time.Second)}},
		Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "r9"}},
	}
}

// failedRun could not proceed: its Restore never appeared.
func failedRun() *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "orphan", CreationTimestamp: metav1.Time{Time: t0.Add(-time.Hour)}},
		Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "gone"}},
		Status: v1alpha1.RestoreHookRunStatus{Phase: v1alpha1.RunPhaseFailed, StartTime: at(-time.Hour), CompletionTime: at(0),
			Conditions: []metav1.Condition{
				{Type: "Completed", Status: "True", Reason: "Failed", Message: "the Restore velero/gone did not appear within maxWait 1h0m0s"},
				{Type: "Degraded", Status: "True", Reason: "RestoreNotFound", Message: "the Restore velero/gone did not appear within maxWait 1h0m0s"},
			}},
	}
}

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run 'go test ./internal/describe/ -update' to create it): %v", path, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); if the change is intended, run with -update:\n%s", path, diff)
	}
}

func TestDescribeGolden(t *testing.T) {
	cases := map[string]struct {
		run  *v1alpha1.RestoreHookRun
		opts Options
	}{
		"describe-demo.txt":       {run: demoRun(), opts: Options{Now: now}},
		"describe-demo-color.txt": {run: demoRun(), opts: Options{Now: now, Color: true}},
		"describe-running.txt":    {run: runningRun(), opts: Options{Now: now}},
		"describe-folded.txt":     {run: foldedRun(), opts: Options{Now: now}},
		"describe-empty.txt":      {run: emptyRun(), opts: Options{Now: now}},
		"describe-failed.txt":     {run: failedRun(), opts: Options{}},
		"describe-ordered.txt":    {run: orderedRun(), opts: Options{Now: now}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Describe(&out, tc.run, tc.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, name, out.String())
		})
	}
}

func TestListGolden(t *testing.T) {
	runs := []v1alpha1.RestoreHookRun{*foldedRun(), *runningRun(), *demoRun(), *emptyRun(), *failedRun()}
	runs[0].CreationTimestamp = metav1.Time{Time: t0.Add(-26 * time.Hour)}
	runs[0].Name = strings.Repeat("a-very-long-run-name-", 5) + "end"
	cases := map[string]ListOptions{
		"list.txt":     {Options: Options{Now: now}},
		"list-all.txt": {Options: Options{Now: now}, AllNamespaces: true},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := List(&out, runs, opts); err != nil {
				t.Fatal(err)
			}
			golden(t, name, out.String())
		})
	}
	var out bytes.Buffer
	if err := List(&out, nil, ListOptions{}); err != nil || out.Len() != 0 {
		t.Errorf("List of no runs wrote %q, %v; want nothing", out.String(), err)
	}
}

func TestLogsGolden(t *testing.T) {
	noOutput := demoRun()
	noOutput.Spec.RecordOutput = ptr.To(false)
	for i := range noOutput.Status.Hooks {
		noOutput.Status.Hooks[i].Stdout, noOutput.Status.Hooks[i].Stderr = "", ""
	}
	cases := map[string]struct {
		run    *v1alpha1.RestoreHookRun
		filter LogFilter
		want   int
	}{
		"logs-all.txt":             {run: demoRun(), want: 6},
		"logs-pod-name.txt":        {run: demoRun(), filter: LogFilter{Pod: "postgres-0"}, want: 3},
		"logs-pod-container.txt":   {run: demoRun(), filter: LogFilter{Pod: "shop/postgres-0", Container: "sidecar"}, want: 1},
		"logs-hook.txt":            {run: demoRun(), filter: LogFilter{Hook: "cache-warmup"}, want: 1},
		"logs-record-output-false": {run: noOutput, filter: LogFilter{Pod: "shop/cache-0"}, want: 1},
		"logs-running.txt":         {run: runningRun(), want: 4},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := Logs(&out, tc.run, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("Logs matched %d records, want %d", n, tc.want)
			}
			golden(t, name, out.String())
		})
	}
}

func TestLogFilterMatches(t *testing.T) {
	rec := &v1alpha1.HookRecord{Pod: "shop/db-0", Container: "postgres", Hook: "load"}
	cases := map[string]struct {
		filter LogFilter
		want   bool
	}{
		"empty filter":            {LogFilter{}, true},
		"namespace/name":          {LogFilter{Pod: "shop/db-0"}, true},
		"bare name":               {LogFilter{Pod: "db-0"}, true},
		"other namespace":         {LogFilter{Pod: "prod/db-0"}, false},
		"name prefix only":        {LogFilter{Pod: "db"}, false},
		"namespace alone":         {LogFilter{Pod: "shop"}, false},
		"hook and container":      {LogFilter{Hook: "load", Container: "postgres"}, true},
		"wrong container":         {LogFilter{Pod: "db-0", Container: "sidecar"}, false},
		"wrong hook":              {LogFilter{Hook: "warm"}, false},
		"annotation hook by name": {LogFilter{Hook: v1alpha1.AnnotationHookName}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.filter.Matches(rec); got != tc.want {
				t.Errorf("%+v.Matches(%+v) = %v, want %v", tc.filter, rec, got, tc.want)
			}
		})
	}
}

func TestProgressAndOutcome(t *testing.T) {
	running, demo, failed := runningRun(), demoRun(), failedRun()
	cases := map[string]struct {
		got, want string
	}{
		"one running run":  {Progress([]v1alpha1.RestoreHookRun{*running}), "app/nightly-hooks Running: 1/4 hooks done"},
		"one finished run": {Progress([]v1alpha1.RestoreHookRun{*demo}), "velero/demo-hooks PartiallyFailed: 6/6 hooks done, 1 failed"},
		"no status yet":    {Progress([]v1alpha1.RestoreHookRun{*emptyRun()}), "velero/fresh Pending: 0/0 hooks done"},
		"several runs summed": {Progress([]v1alpha1.RestoreHookRun{*running, *demo, *foldedRun()}),
			"3 runs, 2 finished: 10007/10010 hooks done, 26 failed, 1 skipped"},
		"outcome":               {Outcome(demo), "velero/demo-hooks: PartiallyFailed, 5/6 hooks succeeded, 1 failed, 0 skipped"},
		"outcome of failed run": {Outcome(failed), "velero/orphan: Failed, 0/0 hooks succeeded, 0 failed, 0 skipped (the Restore velero/gone did not appear within maxWait 1h0m0s)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got  %q\nwant %q", tc.got, tc.want)
			}
		})
	}
}

func TestSortedRecordsLeavesInputAlone(t *testing.T) {
	run := demoRun()
	before := run.DeepCopy().Status.Hooks
	sorted := SortedRecords(run.Status.Hooks)
	if diff := cmp.Diff(before, run.Status.Hooks); diff != "" {
		t.Errorf("SortedRecords changed its input:\n%s", diff)
	}
	if sorted[0].Phase != v1alpha1.HookPhaseFailed || sorted[len(sorted)-1].Phase != v1alpha1.HookPhaseSucceeded {
		t.Errorf("failures first: got first %s, last %s", sorted[0].Phase, sorted[len(sorted)-1].Phase)
	}
}

func TestNaturalCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"batch-2", "batch-10", -1},
		{"batch-10", "batch-2", 1},
		{"batch-02", "batch-2", 0},
		{"a/db-0", "a/db-0", 0},
		{"a/db", "a/db-0", -1},
		{"ns1/web-9", "ns2/web-1", -1},
		{"web-a", "web-1", 1},
	}
	for _, tc := range cases {
		if got := naturalCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestTruncateMiddle(t *testing.T) {
	cases := map[string]struct {
		in   string
		n    int
		want string
	}{
		"fits":          {"shop/db-0", 9, "shop/db-0"},
		"odd cut":       {"abcdefghij", 5, "ab…ij"},
		"even cut":      {"abcdefghij", 6, "abc…ij"},
		"multibyte":     {"ñññññññññ", 4, "ññ…ñ"},
		"keeps ordinal": {"tenant/" + strings.Repeat("x", 80) + "-7", 20, "tenant/xxx…xxxxxxx-7"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := truncateMiddle(tc.in, tc.n); got != tc.want {
				t.Errorf("truncateMiddle(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}
