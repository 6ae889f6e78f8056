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
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// floor issues the hooks' execs directly: one goroutine per pod, its execs one after the other (as the
// operator runs one pod's hooks), each with client-go's WebSocket executor as kubectl exec does.
func (b *bench) floor(ctx context.Context, pods []podRef) (time.Duration, int) {
	var failed atomic.Int64
	var wg sync.WaitGroup
	core := b.cs.CoreV1().RESTClient()
	start := time.Now()
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range b.c.hooks {
				// An exec that fails (kwok drops a connection now and then under a thousand at once) is
				// sent again, so the floor always completes the same work as the run.
				for try := 0; ; try++ {
					err := execOnce(ctx, b.admin, core, p, []string{"/bin/sh", "-c", "true"})
					if err == nil || try == 2 || ctx.Err() != nil {
						break
					}
					if failed.Add(1) == 1 {
						logStep("floor: first error (retried): %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), int(failed.Load())
}

func execOnce(ctx context.Context, cfg *rest.Config, core rest.Interface, p podRef, command []string) error {
	url := core.Post().Namespace(p.namespace).Resource("pods").Name(p.name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: containerName, Command: command, Stdout: true, Stderr: true},
			scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, url.String())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
}

// runWatch follows one run's phase through a watch that asks the API server for Table rows (the printer
// columns, as `kubectl get -w` does) rather than whole objects: the run's status holds thousands of
// records, and decoding each version of it would load the machine being measured.
type runWatch struct {
	body   io.ReadCloser
	events chan phaseEvent
	done   chan struct{}
	// modified counts MODIFIED events: status writes (the spec does not change).
	modified atomic.Int64
}

type phaseEvent struct {
	phase string
	at    time.Time
	err   error
}

func watchRunPhase(ctx context.Context, rc rest.Interface, ns, name string) (*runWatch, error) {
	body, err := rc.Get().AbsPath("/apis", v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version,
		"namespaces", ns, "restorehookruns").
		Param("watch", "true").Param("fieldSelector", "metadata.name="+name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("watching run %s/%s: %w", ns, name, err)
	}
	w := &runWatch{body: body, events: make(chan phaseEvent, 1024), done: make(chan struct{})}
	go w.read()
	return w, nil
}

func (w *runWatch) read() {
	defer close(w.events)
	dec := json.NewDecoder(w.body)
	phaseCol := -1
	for {
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				ColumnDefinitions []struct {
					Name string `json:"name"`
				} `json:"columnDefinitions"`
				Rows []struct {
					Cells []any `json:"cells"`
				} `json:"rows"`
				Message string `json:"message"`
			} `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			select {
			case <-w.done:
			default:
				w.events <- phaseEvent{err: fmt.Errorf("run watch ended: %w", err)}
			}
			return
		}
		at := time.Now()
		if ev.Type == "MODIFIED" {
			w.modified.Add(1)
		}
		if ev.Type == "ERROR" {
			w.events <- phaseEvent{err: fmt.Errorf("run watch error: %s", ev.Object.Message)}
			return
		}
		for i, c := range ev.Object.ColumnDefinitions {
			if c.Name == "Phase" {
				phaseCol = i
			}
		}
		for _, row := range ev.Object.Rows {
			if phaseCol >= 0 && phaseCol < len(row.Cells) {
				s, _ := row.Cells[phaseCol].(string)
				w.events <- phaseEvent{phase: s, at: at}
			}
		}
	}
}

// waitTerminal returns the first terminal phase seen and when it was received.
func (w *runWatch) waitTerminal(ctx context.Context, managerExited <-chan struct{}) (string, time.Time, error) {
	for {
		select {
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		case <-managerExited:
			return "", time.Time{}, errors.New("the manager exited during the run")
		case ev, ok := <-w.events:
			if !ok {
				return "", time.Time{}, errors.New("run watch closed")
			}
			if ev.err != nil {
				return "", time.Time{}, ev.err
			}
			if v1alpha1.RunPhase(ev.phase).IsTerminal() {
				return ev.phase, ev.at, nil
			}
		}
	}
}

func (w *runWatch) stop() {
	close(w.done)
	_ = w.body.Close()
}
