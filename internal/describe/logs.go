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
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// LogFilter selects the hook records whose output Logs prints; empty fields match everything.
type LogFilter struct {
	// Pod is namespace/name, or a bare name that matches the pod of that name in any namespace.
	Pod string
	// Hook is the hook spec's name, or <from-annotation>.
	Hook string
	// Container is the exec hook's container or the init container's name.
	Container string
}

// Matches reports whether a record is selected by the filter.
func (f LogFilter) Matches(r *v1alpha1.HookRecord) bool {
	if f.Pod != "" && r.Pod != f.Pod && (strings.Contains(f.Pod, "/") || podName(r.Pod) != f.Pod) {
		return false
	}
	return (f.Hook == "" || r.Hook == f.Hook) && (f.Container == "" || r.Container == f.Container)
}

func podName(ref string) string {
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// Logs writes the recorded stdout and stderr tails of the records the filter selects, in describe's
// order, each headed by its pod, container and hook. It returns how many records it wrote; records
// without output get a line saying so, so a selected hook is never silently missing.
func Logs(w io.Writer, run *v1alpha1.RestoreHookRun, filter LogFilter) (int, error) {
	var b strings.Builder
	n := 0
	for _, r := range SortedRecords(run.Status.Hooks) {
		if !filter.Matches(&r) {
			continue
		}
		if n > 0 {
			b.WriteString("\n")
		}
		n++
		fmt.Fprintf(&b, "==> %s %s %s (%s) <==\n", r.Pod, dash(r.Container), r.Hook, recordState(&r))
		if r.Stdout == "" && r.Stderr == "" {
			b.WriteString(noOutputText(run, &r) + "\n")
			continue
		}
		writeStream(&b, "stdout", r.Stdout)
		writeStream(&b, "stderr", r.Stderr)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return n, fmt.Errorf("writing the logs: %w", err)
	}
	return n, nil
}

func writeStream(b *strings.Builder, name, tail string) {
	if tail == "" {
		return
	}
	b.WriteString("--- " + name + " ---\n")
	b.WriteString(tail)
	if !strings.HasSuffix(tail, "\n") {
		b.WriteString("\n")
	}
}

// recordState is "Failed NonZeroExit, exit 3, 2 attempts" and the like.
func recordState(r *v1alpha1.HookRecord) string {
	parts := []string{string(r.Type) + " hook " + string(r.Phase)}
	if r.Reason != "" {
		parts[0] += " " + string(r.Reason)
	}
	if r.ExitCode != nil {
		parts = append(parts, "exit "+strconv.Itoa(int(*r.ExitCode)))
	}
	if r.Attempts > 1 {
		parts = append(parts, strconv.Itoa(int(r.Attempts))+" attempts")
	}
	return strings.Join(parts, ", ")
}

// noOutputText says why a record has no output, as far as the record tells.
func noOutputText(run *v1alpha1.RestoreHookRun, r *v1alpha1.HookRecord) string {
	switch {
	case run.Spec.RecordOutput != nil && !*run.Spec.RecordOutput:
		return "(no output recorded: the run has recordOutput: false)"
	case r.Type == v1alpha1.HookTypeInit:
		return "(no output recorded: an init container's output is in its pod's logs: kubectl logs " +
			podLogsRef(r) + ")"
	case r.Attempts == 0:
		return "(no output: the command has not run)"
	default:
		return "(no output recorded)"
	}
}

func podLogsRef(r *v1alpha1.HookRecord) string {
	ns, name := "", r.Pod
	if i := strings.IndexByte(r.Pod, '/'); i >= 0 {
		ns, name = r.Pod[:i], r.Pod[i+1:]
	}
	ref := name + " -c " + r.Container
	if ns != "" {
		ref = "-n " + ns + " " + ref
	}
	return ref
}
