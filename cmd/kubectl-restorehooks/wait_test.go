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
	"bytes"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func genericStreams(out, errOut io.Writer) genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}
}

func unstructuredRun(t *testing.T, ns, name, restore string, phase v1alpha1.RunPhase) *unstructured.Unstructured {
	t.Helper()
	run := &v1alpha1.RestoreHookRun{Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore}},
		Status: v1alpha1.RestoreHookRunStatus{Phase: phase}}
	run.Namespace, run.Name = ns, name
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(run)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// TestTrackerOutcome drives the tracker through event sequences and checks the exit status and
// whether the wait is over.
func TestTrackerOutcome(t *testing.T) {
	type event struct {
		typ               watch.EventType
		ns, name, restore string
		phase             v1alpha1.RunPhase
	}
	cases := map[string]struct {
		target   waitTarget
		events   []event
		wantDone bool
		wantCode int
	}{
		"one run completes": {target: waitTarget{name: "a", namespace: "ns"},
			events:   []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseRunning}, {watch.Modified, "ns", "a", "r", v1alpha1.RunPhaseCompleted}},
			wantDone: true, wantCode: 0},
		"still running": {target: waitTarget{name: "a", namespace: "ns"},
			events:   []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseRunning}},
			wantDone: false, wantCode: 0},
		"worst of a Restore's runs wins": {target: waitTarget{restore: "r"},
			events: []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseCompleted},
				{watch.Added, "ns2", "b", "r", v1alpha1.RunPhasePartiallyFailed}, {watch.Added, "ns", "c", "r", v1alpha1.RunPhaseCompleted}},
			wantDone: true, wantCode: 1},
		"Failed beats PartiallyFailed": {target: waitTarget{restore: "r"},
			events:   []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseFailed}, {watch.Added, "ns", "b", "r", v1alpha1.RunPhasePartiallyFailed}},
			wantDone: true, wantCode: 2},
		"a run of another Restore is ignored": {target: waitTarget{restore: "r"},
			events:   []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseCompleted}, {watch.Added, "ns", "x", "other", v1alpha1.RunPhaseRunning}},
			wantDone: true, wantCode: 0},
		"deleted before its end is a failure": {target: waitTarget{name: "a"},
			events:   []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseRunning}, {watch.Deleted, "ns", "a", "r", v1alpha1.RunPhaseRunning}},
			wantDone: true, wantCode: 2},
		"deleted after its end keeps the outcome": {target: waitTarget{restore: "r"},
			events: []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseCompleted}, {watch.Deleted, "ns", "a", "r", v1alpha1.RunPhaseCompleted},
				{watch.Added, "ns", "b", "r", v1alpha1.RunPhaseRunning}},
			wantDone: false, wantCode: 0},
		"restoreRef edited away stops following it": {target: waitTarget{restore: "r"},
			events: []event{{watch.Added, "ns", "a", "r", v1alpha1.RunPhaseRunning}, {watch.Added, "ns", "b", "r", v1alpha1.RunPhaseCompleted},
				{watch.Modified, "ns", "a", "elsewhere", v1alpha1.RunPhaseRunning}},
			wantDone: true, wantCode: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tr := newTracker(tc.target)
			for _, e := range tc.events {
				if err := tr.observe(e.typ, unstructuredRun(t, e.ns, e.name, e.restore, e.phase)); err != nil {
					t.Fatal(err)
				}
			}
			if got := tr.done(); got != tc.wantDone {
				t.Errorf("done = %v, want %v (progress %q)", got, tc.wantDone, tr.progress())
			}
			if got := tr.exitCode(); got != tc.wantCode {
				t.Errorf("exit code = %d, want %d", got, tc.wantCode)
			}
		})
	}
}

func TestTrackerSyncNoticesDeletions(t *testing.T) {
	tr := newTracker(waitTarget{restore: "r"})
	if err := tr.sync([]unstructured.Unstructured{*unstructuredRun(t, "ns", "a", "r", v1alpha1.RunPhaseRunning),
		*unstructuredRun(t, "ns", "b", "r", v1alpha1.RunPhaseRunning)}); err != nil {
		t.Fatal(err)
	}
	// A relist after the watch expired: a is gone, b finished.
	if err := tr.sync([]unstructured.Unstructured{*unstructuredRun(t, "ns", "b", "r", v1alpha1.RunPhaseCompleted)}); err != nil {
		t.Fatal(err)
	}
	if !tr.done() || tr.exitCode() != exitFailed {
		t.Errorf("after a run vanished between lists: done %v, code %d; want true, %d", tr.done(), tr.exitCode(), exitFailed)
	}
	if got := tr.progress(); got != "ns/b Completed: 0/0 hooks done, 1 deleted" {
		t.Errorf("progress = %q", got)
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressLine(&buf, true)
	p.show("ns/a Running: 1/4 hooks done")
	p.show("ns/a Running: 1/4 hooks done") // unchanged: not rewritten
	p.show("ns/a Running: 2/4 hooks done")
	p.end()
	if want := "\r\x1b[Kns/a Running: 1/4 hooks done\r\x1b[Kns/a Running: 2/4 hooks done\n"; buf.String() != want {
		t.Errorf("on a terminal: %q, want %q", buf.String(), want)
	}
	buf.Reset()
	off := newProgressLine(&buf, false)
	off.show("ns/a Running: 1/4 hooks done")
	off.end()
	if buf.Len() != 0 {
		t.Errorf("off a terminal the progress line wrote %q", buf.String())
	}
}

func TestExitCode(t *testing.T) {
	cases := map[string]struct {
		err  error
		want int
	}{
		"nil":                {nil, 0},
		"plain error":        {io.EOF, 1},
		"wait's exit status": {&exitError{code: exitTimedOut, err: io.EOF}, 3},
		"silent outcome":     {&exitError{code: exitPartiallyFailed, silent: true}, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ExitCode(tc.err); got != tc.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
