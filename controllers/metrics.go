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
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

var (
	hooksTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restorehook_hooks_total",
		Help: "Hooks that reached a final phase, by type (Exec, Init), source (Spec, Annotation) and result (the phase: Succeeded, Failed, Skipped).",
	}, []string{"type", "source", "result"})

	execDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "restorehook_exec_duration_seconds",
		Help:    "How long each exec hook attempt took, from sending the command to its end.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	})

	waitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "restorehook_wait_duration_seconds",
		Help:    "How long exec hooks waited, from when their pod was first seen to their first attempt.",
		Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	})

	runsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "restorehook_runs",
		Help: "RestoreHookRuns known to this operator, by phase.",
	}, []string{"phase"})
)

func init() {
	metrics.Registry.MustRegister(hooksTotal, execDuration, waitDuration, runsGauge)
}

// runPhases keeps the last phase of every run, so the runs gauge counts each run once.
type runPhases struct {
	mu     sync.Mutex
	phases map[types.UID]v1alpha1.RunPhase
}

func (p *runPhases) set(uid types.UID, phase v1alpha1.RunPhase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phases == nil {
		p.phases = map[types.UID]v1alpha1.RunPhase{}
	}
	if old, ok := p.phases[uid]; ok {
		if old == phase {
			return
		}
		runsGauge.WithLabelValues(string(old)).Dec()
	}
	if phase == "" {
		delete(p.phases, uid)
		return
	}
	p.phases[uid] = phase
	runsGauge.WithLabelValues(string(phase)).Inc()
}
