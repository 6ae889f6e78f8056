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
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

func envtestUser() envtest.User {
	return envtest.User{Name: managerUser, Groups: []string{"system:masters"}}
}

// buildManager builds ./cmd/manager into out.
func buildManager(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/manager")
	cmd.Dir = localcluster.RepoRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building ./cmd/manager: %w", err)
	}
	return nil
}

// managerProc is the operator running as its own process.
type managerProc struct {
	name      string
	pprofAddr string // "" unless --profile
	cmd       *exec.Cmd
	exited    chan struct{}
	exitErr   error
	logPath   string
	started   time.Time
	stopOnce  sync.Once
	stopErr   error
}

// startManager starts the manager binary as user managerUser and returns once it reconciles: a probe
// run (for a Restore that does not exist) has been given a status.
func (b *bench) startManager(ctx context.Context, name string) (*managerProc, error) {
	args := []string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--disable-webhooks",
		"--velero-namespace", veleroNS}
	m := &managerProc{name: name, logPath: filepath.Join(b.work, "manager-"+name+".log"), exited: make(chan struct{})}
	if b.c.profile {
		port, err := freeLocalPort()
		if err != nil {
			return nil, err
		}
		m.pprofAddr = fmt.Sprintf("127.0.0.1:%d", port)
		args = append(args, "--pprof-bind-address="+m.pprofAddr)
	}
	args = append(args, strings.Fields(b.c.managerArgs)...)
	logFile, err := os.Create(m.logPath)
	if err != nil {
		return nil, err
	}
	m.cmd = exec.Command(b.managerBin, args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.started = time.Now()
	if err := m.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	go func() {
		m.exitErr = m.cmd.Wait()
		_ = logFile.Close()
		close(m.exited)
	}()

	probe := &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "probe-" + name},
		Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "no-such-restore-" + name}},
	}
	if err := b.cl.Create(ctx, probe); err != nil {
		return nil, fmt.Errorf("creating the probe run: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-m.exited:
			return false, fmt.Errorf("the manager exited: %v (log: %s)", m.exitErr, m.logPath)
		default:
		}
		if err := b.cl.Get(ctx, client.ObjectKeyFromObject(probe), probe); err != nil {
			return false, nil
		}
		return probe.Status.Phase != "", nil
	})
	if err != nil {
		_ = m.stop()
		return nil, fmt.Errorf("waiting for the manager to reconcile: %w", err)
	}
	if err := b.cl.Delete(ctx, probe); err != nil {
		_ = m.stop()
		return nil, fmt.Errorf("deleting the probe run: %w", err)
	}
	rss, errRSS := m.rss()
	anon, errAnon := m.memStatus("RssAnon:")
	file, errFile := m.memStatus("RssFile:")
	if errors.Join(errRSS, errAnon, errFile) == nil {
		logStep("%s: manager reconciling, VmRSS %d MiB (anonymous %d MiB, file-backed: its binary, %d MiB)", name, rss>>20, anon>>20, file>>20)
	}
	return m, nil
}

// stop sends SIGTERM, and SIGKILL after 15s.
func (m *managerProc) stop() error {
	m.stopOnce.Do(func() {
		if m.cmd.Process == nil {
			return
		}
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(15 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
			m.stopErr = fmt.Errorf("the manager did not stop within 15s of SIGTERM (log: %s)", m.logPath)
		}
	})
	return m.stopErr
}

// peakRSS is the process's VmHWM: the most resident memory it has had since it started.
func (m *managerProc) peakRSS() (int64, error) { return m.memStatus("VmHWM:") }

// rss is the process's VmRSS: its resident memory now.
func (m *managerProc) rss() (int64, error) { return m.memStatus("VmRSS:") }

func (m *managerProc) memStatus(field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("reading the manager's memory: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing %s %q: %w", field, v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, m.cmd.Process.Pid)
}
