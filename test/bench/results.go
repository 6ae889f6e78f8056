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
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// results is what the benchmark reports; the JSON names are its interface.
type results struct {
	Pods  int `json:"pods"`
	Hooks int `json:"hooks"`
	Reps  int `json:"reps"`

	// RunSeconds is the median throughput time; FloorSeconds the median floor time; Ratio their quotient.
	RunSeconds   float64 `json:"run_seconds"`
	FloorSeconds float64 `json:"floor_seconds"`
	Ratio        float64 `json:"ratio"`
	// RunSecondsAll and FloorSecondsAll are every repetition's, in order.
	RunSecondsAll   []float64 `json:"run_seconds_all"`
	FloorSecondsAll []float64 `json:"floor_seconds_all"`
	RunFirst        []bool    `json:"run_first"`
	// FloorRetries counts floor execs that failed and were sent again.
	FloorRetries int `json:"floor_retries"`
	// RunCPU and FloorCPU are the CPU seconds each process used during each repetition's run and floor.
	RunCPU         []cpuSnapshot `json:"run_cpu_seconds"`
	FloorCPU       []cpuSnapshot `json:"floor_cpu_seconds"`
	ExecsPerSecond float64       `json:"run_execs_per_second"`
	FloorExecsPerS float64       `json:"floor_execs_per_second"`

	ReactionLatencyP50Ms float64   `json:"reaction_latency_p50_ms"`
	ReactionLatencyP99Ms float64   `json:"reaction_latency_p99_ms"`
	ReactionLatencyMaxMs float64   `json:"reaction_latency_max_ms"`
	ReactionLatenciesMs  []float64 `json:"reaction_latencies_ms,omitempty"`

	// ManagerPeakRSSBytes is the largest VmHWM over the repetitions (one manager process each).
	ManagerPeakRSSBytes    int64   `json:"manager_peak_rss_bytes"`
	ManagerPeakRSSBytesAll []int64 `json:"manager_peak_rss_bytes_all"`

	// PodLists, PodWatches: the manager's pod LIST and WATCH requests from its start to the run's
	// completion (largest over the repetitions); PodWatchesHeld: its pod watches open at the completion.
	PodLists          int `json:"pod_lists"`
	PodWatches        int `json:"pod_watches"`
	PodWatchesHeld    int `json:"pod_watches_held"`
	PodListsDuringRun int `json:"pod_lists_during_run"`
	PodWatchDuringRun int `json:"pod_watches_during_run"`
	// ManagerRequestsDuringRun counts the manager's requests during the last repetition's run, by verb
	// and resource (pods/exec left out).
	ManagerRequestsDuringRun map[string]int `json:"manager_requests_during_run"`

	// StatusBytes is the final status's JSON size (largest over the repetitions); ObjectBytes the whole run's.
	StatusBytes int `json:"status_bytes"`
	// StatusWrites and Events are the run's status writes (MODIFIED events on a watch of it) and the
	// Events the manager created in the run's namespace, per repetition.
	StatusWrites []int `json:"status_writes"`
	Events       []int `json:"events"`
	// HooksRetried counts, per repetition, hooks kept in the status with more than one attempt.
	HooksRetried []int `json:"hooks_retried"`
	ObjectBytes  int   `json:"object_bytes"`
	HooksOmitted int32 `json:"hooks_omitted"`

	Machine machine `json:"machine"`
}

type machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	GoVersion   string `json:"go_version"`
	LoadStart   string `json:"load_start"`
	LoadEnd     string `json:"load_end"`
}

func (r *results) addRep(rep *repResult) {
	r.RunSecondsAll = append(r.RunSecondsAll, rep.run.Seconds())
	r.FloorSecondsAll = append(r.FloorSecondsAll, rep.floor.Seconds())
	r.RunFirst = append(r.RunFirst, rep.runFirst)
	r.FloorRetries += rep.floorErrors
	r.RunCPU = append(r.RunCPU, rep.runCPU)
	r.FloorCPU = append(r.FloorCPU, rep.floorCPU)
	r.ManagerPeakRSSBytesAll = append(r.ManagerPeakRSSBytesAll, rep.peakRSS)
	r.ManagerPeakRSSBytes = max(r.ManagerPeakRSSBytes, rep.peakRSS)
	r.PodLists = max(r.PodLists, rep.api.PodLists)
	r.PodWatches = max(r.PodWatches, rep.api.PodWatches)
	r.PodWatchesHeld = max(r.PodWatchesHeld, rep.api.PodWatchesHeld)
	r.PodListsDuringRun = max(r.PodListsDuringRun, rep.apiDuringRun.PodLists)
	r.PodWatchDuringRun = max(r.PodWatchDuringRun, rep.apiDuringRun.PodWatches)
	r.ManagerRequestsDuringRun = rep.apiDuringRun.Requests
	r.StatusBytes = max(r.StatusBytes, rep.statusBytes)
	r.StatusWrites = append(r.StatusWrites, rep.statusWrites)
	r.Events = append(r.Events, rep.events)
	r.HooksRetried = append(r.HooksRetried, rep.retried)
	r.ObjectBytes = max(r.ObjectBytes, rep.objectBytes)
	r.HooksOmitted = max(r.HooksOmitted, rep.omitted)
}

func (r *results) setReaction(lat []float64) {
	r.ReactionLatenciesMs = lat
	r.ReactionLatencyP50Ms = percentile(lat, 50)
	r.ReactionLatencyP99Ms = percentile(lat, 99)
	r.ReactionLatencyMaxMs = percentile(lat, 100)
}

func (r *results) finish() {
	r.RunSeconds, r.FloorSeconds = median(r.RunSecondsAll), median(r.FloorSecondsAll)
	if r.FloorSeconds > 0 {
		r.Ratio = r.RunSeconds / r.FloorSeconds
	}
	execs := float64(r.Pods * r.Hooks)
	if r.RunSeconds > 0 {
		r.ExecsPerSecond = execs / r.RunSeconds
	}
	if r.FloorSeconds > 0 {
		r.FloorExecsPerS = execs / r.FloorSeconds
	}
}

func secondsList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

func printTable(w io.Writer, r *results) {
	// A table for a terminal: a failed write has nowhere to be reported.
	out := errWriter{w}
	out.printf("\nrestore-hook-operator benchmark: %d pods x %d exec hooks, %d repetitions\n", r.Pods, r.Hooks, r.Reps)
	out.printf("machine: %d CPUs (%s), %d MiB, Linux %s, %s; load average %s at start, %s at end\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryBytes>>20, r.Machine.Kernel, r.Machine.GoVersion,
		r.Machine.LoadStart, r.Machine.LoadEnd)
	tabw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	tw := errWriter{tabw}
	tw.printf("measure\tvalue\tdetail\n")
	tw.printf("throughput: run time (median)\t%.2f s\treps: %s; %.0f execs/s\n", r.RunSeconds, secondsList(r.RunSecondsAll), r.ExecsPerSecond)
	tw.printf("floor: direct execs (median)\t%.2f s\treps: %s; %.0f execs/s\n", r.FloorSeconds, secondsList(r.FloorSecondsAll), r.FloorExecsPerS)
	tw.printf("ratio run/floor\t%.3f\t\n", r.Ratio)
	tw.printf("CPU during run (mean)\t%.1f s\t%s\n", meanCPU(r.RunCPU).total(), meanCPU(r.RunCPU))
	tw.printf("CPU during floor (mean)\t%.1f s\t%s; %d execs retried\n", meanCPU(r.FloorCPU).total(), meanCPU(r.FloorCPU), r.FloorRetries)
	tw.printf("reaction latency p50\t%.1f ms\t%d pods, max %.1f ms\n", r.ReactionLatencyP50Ms, len(r.ReactionLatenciesMs), r.ReactionLatencyMaxMs)
	tw.printf("reaction latency p99\t%.1f ms\t\n", r.ReactionLatencyP99Ms)
	rss := make([]string, len(r.ManagerPeakRSSBytesAll))
	for i, v := range r.ManagerPeakRSSBytesAll {
		rss[i] = fmt.Sprintf("%.1f", float64(v)/(1<<20))
	}
	tw.printf("manager peak RSS (VmHWM)\t%.1f MiB\treps: %s MiB\n", float64(r.ManagerPeakRSSBytes)/(1<<20), strings.Join(rss, ", "))
	tw.printf("manager pod LISTs\t%d\tfrom its start to the run's completion; %d during the run\n", r.PodLists, r.PodListsDuringRun)
	tw.printf("manager pod WATCHes\t%d\topened, same window; %d during the run; %d held at the end\n", r.PodWatches, r.PodWatchDuringRun, r.PodWatchesHeld)
	tw.printf("final status size\t%d bytes\twhole object %d bytes; %d hook records folded into counters\n", r.StatusBytes, r.ObjectBytes, r.HooksOmitted)
	tw.printf("status writes per run\t%v\tevents per run: %v; hooks retried: %v\n", r.StatusWrites, r.Events, r.HooksRetried)
	_ = tabw.Flush()
	if len(r.ManagerRequestsDuringRun) > 0 {
		out.printf("\nmanager requests during the last run (audit log: its reads and pod requests; writes and pods/exec not logged): %s\n",
			auditCounts{Requests: r.ManagerRequestsDuringRun}.summary())
	}
}

// meanCPU averages CPU snapshots process by process.
func meanCPU(xs []cpuSnapshot) cpuSnapshot {
	m := cpuSnapshot{}
	for _, x := range xs {
		for k, v := range x {
			m[k] += v / float64(len(xs))
		}
	}
	return m
}

// errWriter prints and ignores write errors.
type errWriter struct{ w io.Writer }

func (e errWriter) printf(format string, args ...any) { _, _ = fmt.Fprintf(e.w, format, args...) }
