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
	"cmp"
	"fmt"
	"io"
	"slices"
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
	// RatioMedian, RatioMin and RatioMax are over the repetitions' ratios (RatiosAll): each repetition's
	// run time over its own floor time, measured one after the other on the same pods.
	RatioMedian float64   `json:"ratio_median"`
	RatioMin    float64   `json:"ratio_min"`
	RatioMax    float64   `json:"ratio_max"`
	RatiosAll   []float64 `json:"ratios_all"`
	// CPURatioMedian is the median over the repetitions of all processes' CPU seconds during the run
	// over those during the floor: the whole stack's cost of the same work, which varies less than wall
	// time on a shared machine.
	CPURatioMedian float64 `json:"cpu_ratio_median"`
	// RunCPUPerHookMs is each process's CPU milliseconds per hook during the run, and FloorCPUPerExecMs
	// during the floor per exec ("bench" is the floor's exec client), medians over the repetitions.
	RunCPUPerHookMs   map[string]float64 `json:"run_cpu_ms_per_hook"`
	FloorCPUPerExecMs map[string]float64 `json:"floor_cpu_ms_per_exec"`
	// ManagerCPUPerHookRatio is the manager's CPU per hook over the floor client's CPU per exec (medians).
	ManagerCPUPerHookRatio float64 `json:"manager_cpu_per_hook_ratio"`
	// Profiled says the manager was profiled during the runs (--profile), which slows it down.
	Profiled bool `json:"profiled"`
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
	// ManagerIdleRSSBytesAll is the manager's VmRSS with every pod cached, just before each run.
	ManagerIdleRSSBytesAll []int64 `json:"manager_idle_rss_bytes_all"`

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
	// LoadReaction is the load average when the reaction latency measurement began.
	LoadReaction string `json:"load_reaction"`
	LoadEnd      string `json:"load_end"`
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
	r.ManagerIdleRSSBytesAll = append(r.ManagerIdleRSSBytesAll, rep.idleRSS)
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
	r.RatiosAll = r.RatiosAll[:0]
	var cpuRatios []float64
	for i := range r.RunSecondsAll {
		if r.FloorSecondsAll[i] > 0 {
			r.RatiosAll = append(r.RatiosAll, r.RunSecondsAll[i]/r.FloorSecondsAll[i])
		}
		if f := r.FloorCPU[i].total(); f > 0 {
			cpuRatios = append(cpuRatios, r.RunCPU[i].total()/f)
		}
	}
	if len(r.RatiosAll) > 0 {
		r.RatioMedian, r.RatioMin, r.RatioMax = median(r.RatiosAll), slices.Min(r.RatiosAll), slices.Max(r.RatiosAll)
	}
	r.CPURatioMedian = median(cpuRatios)
	r.RunCPUPerHookMs = perUnitMs(r.RunCPU, r.Pods*r.Hooks)
	r.FloorCPUPerExecMs = perUnitMs(r.FloorCPU, r.Pods*r.Hooks)
	if f := r.FloorCPUPerExecMs["bench"]; f > 0 {
		r.ManagerCPUPerHookRatio = r.RunCPUPerHookMs["manager"] / f
	}
	execs := float64(r.Pods * r.Hooks)
	if r.RunSeconds > 0 {
		r.ExecsPerSecond = execs / r.RunSeconds
	}
	if r.FloorSeconds > 0 {
		r.FloorExecsPerS = execs / r.FloorSeconds
	}
}

// msList renders "kube-apiserver 6.10 ms, kwok 5.02 ms, ...", largest first.
func msList(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f ms", k, m[k]))
	}
	return strings.Join(parts, ", ")
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
	if r.Profiled {
		out.printf("the manager was profiled (--profile): its figures include the profiler's cost\n")
	}
	out.printf("machine: %d CPUs (%s), %d MiB, Linux %s, %s; load average %s at start, %s at end\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryBytes>>20, r.Machine.Kernel, r.Machine.GoVersion,
		r.Machine.LoadStart, r.Machine.LoadEnd)
	tabw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	tw := errWriter{tabw}
	tw.printf("measure\tvalue\tdetail\n")
	tw.printf("throughput: run time (median)\t%.2f s\treps: %s; %.0f execs/s\n", r.RunSeconds, secondsList(r.RunSecondsAll), r.ExecsPerSecond)
	tw.printf("floor: direct execs (median)\t%.2f s\treps: %s; %.0f execs/s\n", r.FloorSeconds, secondsList(r.FloorSecondsAll), r.FloorExecsPerS)
	tw.printf("ratio run/floor (median of reps)\t%.3f\tmin %.3f, max %.3f; reps: %s; median run / median floor %.3f\n",
		r.RatioMedian, r.RatioMin, r.RatioMax, secondsList(r.RatiosAll), r.Ratio)
	tw.printf("CPU ratio run/floor (median)\t%.3f\tall processes\n", r.CPURatioMedian)
	tw.printf("manager CPU per hook\t%.2f ms\tfloor client (bench) CPU per exec %.2f ms: ratio %.2f\n",
		r.RunCPUPerHookMs["manager"], r.FloorCPUPerExecMs["bench"], r.ManagerCPUPerHookRatio)
	tw.printf("CPU per hook, run (median)\t%s\t\n", msList(r.RunCPUPerHookMs))
	tw.printf("CPU per exec, floor (median)\t%s\t\n", msList(r.FloorCPUPerExecMs))
	tw.printf("CPU during run (mean)\t%.1f s\t%s\n", meanCPU(r.RunCPU).total(), meanCPU(r.RunCPU))
	tw.printf("CPU during floor (mean)\t%.1f s\t%s; %d execs retried\n", meanCPU(r.FloorCPU).total(), meanCPU(r.FloorCPU), r.FloorRetries)
	if len(r.ReactionLatenciesMs) > 0 {
		tw.printf("reaction latency p50\t%.1f ms\t%d pods, max %.1f ms; load average %s when it began\n", r.ReactionLatencyP50Ms,
			len(r.ReactionLatenciesMs), r.ReactionLatencyMaxMs, r.Machine.LoadReaction)
		tw.printf("reaction latency p99\t%.1f ms\t\n", r.ReactionLatencyP99Ms)
	}
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

// perUnitMs is, process by process, the median over the snapshots of its CPU milliseconds per unit of work.
func perUnitMs(xs []cpuSnapshot, units int) map[string]float64 {
	per := map[string][]float64{}
	for _, x := range xs {
		for k, v := range x {
			per[k] = append(per[k], v*1000/float64(units))
		}
	}
	out := make(map[string]float64, len(per))
	for k, v := range per {
		out[k] = median(v)
	}
	return out
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
