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
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// FinishedRuns is the run cache's transform: the manager caches every RestoreHookRun, and a finished
// run of a thousand-pod restore holds thousands of hook records that no pass reads again (a pass on a
// finished run stops at its phase). Kept in full, finished runs would make the operator's memory grow
// with the history of restores; trimmed, a finished run costs its phase, counters and conditions.
//
// A run is trimmed only when it arrives finished with no exec of it in flight in this process, which
// the reconciler tells through the function it registers: a finished run whose last execs are still
// being recorded is kept whole, since its passes still decide from its records. Once finished and idle
// a run never becomes busy again (nothing starts for a finished run), so a trimmed run is never decided
// from. Until a reconciler registers, nothing is trimmed.
type FinishedRuns struct {
	busy atomic.Pointer[func(types.UID) bool]
}

func (f *FinishedRuns) register(busy func(types.UID) bool) { f.busy.Store(&busy) }

// transform trims a cached run: managed fields always, the records of a finished idle run.
func (f *FinishedRuns) transform(obj any) (any, error) {
	run, ok := obj.(*v1alpha1.RestoreHookRun)
	if !ok {
		return obj, nil
	}
	run.ManagedFields = nil
	busy := f.busy.Load()
	if busy != nil && run.Status.Phase.IsTerminal() && !(*busy)(run.UID) {
		run.Status.Hooks, run.Status.FoldedPods = nil, nil
	}
	return run, nil
}
