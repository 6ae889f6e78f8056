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
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// profiler takes pprof profiles of the manager during a run (--profile): a CPU profile of the run's
// first --profile-seconds, the heap profile taken when the manager's heap was largest (sampled every
// second), and the allocations since the manager started, at the run's end. They are written to the
// work directory as <name>-cpu.pprof, <name>-heap.pprof and <name>-allocs.pprof, for
// `go tool pprof <work-dir>/manager <file>`.
type profiler struct {
	base    string // http://127.0.0.1:port/debug/pprof/
	dir     string
	name    string
	seconds int

	stop chan struct{}
	wg   sync.WaitGroup
	errs []error
	mu   sync.Mutex

	// The largest figures seen by the once-a-second sampling: heap in use, goroutine stacks, goroutines.
	peakHeap, peakStack int64
	peakGoroutines      int
}

// profileAPIServer saves a CPU profile of the API server (its /debug/pprof, on by default) for the
// given seconds as <dir>/<name>.pprof, in the background; the returned function waits for it.
func profileAPIServer(ctx context.Context, rc rest.Interface, seconds int, dir, name string) func() error {
	done := make(chan error, 1)
	go func() {
		body, err := rc.Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(seconds)).
			Timeout(time.Duration(seconds+30) * time.Second).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name+".pprof"), body, 0o644)
		}
		if err != nil {
			err = fmt.Errorf("profiling the API server: %w", err)
		}
		done <- err
	}()
	return func() error { return <-done }
}

// freeLocalPort returns a TCP port nothing listens on now, for the manager's pprof server.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startProfiles begins profiling the manager at addr; end collects the rest and reports any failure.
func startProfiles(ctx context.Context, addr, dir, name string, seconds int) *profiler {
	p := &profiler{base: "http://" + addr + "/debug/pprof/", dir: dir, name: name, seconds: seconds, stop: make(chan struct{})}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.fail(p.save(ctx, fmt.Sprintf("profile?seconds=%d", p.seconds), "cpu"))
	}()
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			p.fail(p.sampleHeap(ctx))
			select {
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// end stops the heap sampling, saves the allocations profile and waits for the CPU profile.
func (p *profiler) end(ctx context.Context) error {
	close(p.stop)
	p.fail(p.save(ctx, "allocs", "allocs"))
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		return fmt.Errorf("profiling the manager: %w", p.errs[0])
	}
	return nil
}

func (p *profiler) fail(err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

func (p *profiler) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

func (p *profiler) save(ctx context.Context, path, kind string) error {
	body, err := p.get(ctx, path)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir, p.name+"-"+kind+".pprof"), body, 0o644)
}

// sampleHeap keeps the heap profile taken when the heap in use (runtime.MemStats.HeapInuse) was largest.
func (p *profiler) sampleHeap(ctx context.Context) error {
	text, err := p.get(ctx, "heap?debug=1")
	if err != nil {
		return err
	}
	if stack, ok := memStat(text, "Stack"); ok {
		p.peakStack = max(p.peakStack, stack)
	}
	if g, err := p.get(ctx, "goroutine?debug=1"); err == nil {
		var n int
		if _, err := fmt.Sscanf(string(g), "goroutine profile: total %d", &n); err == nil {
			p.peakGoroutines = max(p.peakGoroutines, n)
		}
	}
	inuse, ok := memStat(text, "HeapInuse")
	if !ok || inuse <= p.peakHeap {
		return nil
	}
	p.peakHeap = inuse
	return p.save(ctx, "heap", "heap")
}

// memStat reads "# name = value" (or the first of "# name = inuse / sys") from a debug=1 heap profile
// (runtime.MemStats at its end).
func memStat(text []byte, name string) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# "+name+" = "); ok {
			v, _, _ = strings.Cut(v, " / ")
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
