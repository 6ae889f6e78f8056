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

package reliability

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/test/hookfiles"
)

// managerProcess is one cmd/manager process.
type managerProcess struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// probe is the host:port of its /healthz and /readyz.
	probe  string
	exited chan struct{}
	err    error
}

// managerFlags configure startManager.
type managerFlags struct {
	// webhooks serves the admission webhooks where envtest points them (one process at a time can).
	webhooks bool
	// leaderElectionID, when set, runs the manager under leader election with that lease name and short
	// lease timings, so a standby takes over within seconds of the leader's death.
	leaderElectionID string
	// kubeconfig overrides the suite's kubeconfig (e.g. one that goes through a proxy).
	kubeconfig string
}

// startManager starts cmd/manager as a separate process, logging to a file, and waits until its
// readiness probe answers. The process is killed when the spec ends, if it still runs.
func startManager(name string, f managerFlags) *managerProcess {
	GinkgoHelper()
	port, err := freePort()
	Expect(err).NotTo(HaveOccurred())
	m := &managerProcess{name: name, probe: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	args := []string{
		"--metrics-bind-address=0", "--health-probe-bind-address=" + m.probe, "--velero-namespace=" + veleroNS,
		"--status-write-interval=20ms", "--zap-log-level=info",
	}
	if f.webhooks {
		wh := local.Env.WebhookInstallOptions
		args = append(args, "--webhook-cert-path="+wh.LocalServingCertDir, "--webhook-port="+strconv.Itoa(wh.LocalServingPort))
	} else {
		args = append(args, "--disable-webhooks")
	}
	if f.leaderElectionID != "" {
		args = append(args, "--leader-elect", "--leader-election-namespace="+veleroNS,
			"--leader-election-id="+f.leaderElectionID, "--leader-elect-lease-duration=3s",
			"--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=250ms")
	}
	kc := kubeconfig
	if f.kubeconfig != "" {
		kc = f.kubeconfig
	}
	logDir, err := os.MkdirTemp("", "manager-log-")
	Expect(err).NotTo(HaveOccurred())
	m.logPath = filepath.Join(logDir, name+".log")
	logFile, err := os.Create(m.logPath)
	Expect(err).NotTo(HaveOccurred())

	m.cmd = exec.Command(managerBin, args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	// A test binary that dies without cleaning up takes the manager with it.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	Expect(m.cmd.Start()).To(Succeed())
	go func() {
		m.err = m.cmd.Wait()
		_ = logFile.Close()
		close(m.exited)
	}()
	DeferCleanup(func() {
		m.kill()
		if CurrentSpecReport().Failed() {
			GinkgoWriter.Printf("---- log of manager %s (%s) ----\n%s\n", m.name, m.logPath, m.logTail(20000))
		}
		_ = os.RemoveAll(logDir)
	})
	Eventually(func() error {
		select {
		case <-m.exited:
			return StopTrying(fmt.Sprintf("manager %s exited: %v\n%s", name, m.err, m.logTail(4000)))
		default:
		}
		return m.probeOK("/readyz")
	}, 30*time.Second).Should(Succeed(), "manager %s ready", name)
	return m
}

// probeOK GETs a probe path and fails unless it answers 200.
func (m *managerProcess) probeOK(path string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + m.probe + path)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return nil
}

// kill9 sends SIGKILL, as the OOM killer or a node failure would: no deferred code, no lease release.
func (m *managerProcess) kill9() {
	GinkgoHelper()
	Expect(m.cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
	Eventually(m.exited, 10*time.Second).Should(BeClosed())
}

// kill ends the process if it still runs.
func (m *managerProcess) kill() {
	select {
	case <-m.exited:
	default:
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.exited
	}
}

// running reports whether the process has not exited.
func (m *managerProcess) running() bool {
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

func (m *managerProcess) log() string {
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func (m *managerProcess) logTail(n int) string {
	s := m.log()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// leads reports whether the manager has acquired its leader election lease (client-go logs it).
func (m *managerProcess) leads() bool {
	return strings.Contains(strings.ToLower(m.log()), "successfully acquired lease")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tcpProxy forwards TCP connections to a target and can cut every connection it carries at once: a
// dropped network path between the operator and the API server.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startProxy(target string) *tcpProxy {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	DeferCleanup(p.close)
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *tcpProxy) forward(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	_, _ = c.Close(), u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// cut closes every connection in flight (new ones are still accepted) and returns how many there were.
func (p *tcpProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		_ = c.Close()
	}
	return n / 2
}

func (p *tcpProxy) close() {
	_ = p.ln.Close()
	p.cut()
}

// newNamespace creates a namespace with a generated name; each spec works in its own.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rel-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// newRestore creates a Velero Restore in the Velero namespace, InProgress as while Velero creates pods.
func newRestore() *velerov1.Restore {
	GinkgoHelper()
	r, err := localcluster.NewRestore(ctx, k8sClient, veleroNS)
	Expect(err).NotTo(HaveOccurred())
	return r
}

// completeRestore marks the Restore Completed, as Velero does when it has restored everything.
func completeRestore(r *velerov1.Restore) {
	GinkgoHelper()
	Expect(localcluster.SetRestorePhase(ctx, k8sClient, r, velerov1.RestorePhaseCompleted)).To(Succeed())
}

// restoredPod returns (does not create) a pod labelled as restored by r.
var restoredPod = localcluster.RestoredPod

// runningPod creates a restored pod on kwok's managed node and waits until kwok has it Running.
func runningPod(p *corev1.Pod) {
	GinkgoHelper()
	Expect(kwok.RunManagedPod(ctx, p, 20*time.Second)).To(Succeed())
}

// newRun creates a RestoreHookRun in namespace for r with the given hook specs.
func newRun(namespace string, r *velerov1.Restore, specs ...v1alpha1.RestoreResourceHookSpec) *v1alpha1.RestoreHookRun {
	GinkgoHelper()
	run := runFor(namespace, r, specs...)
	Expect(k8sClient.Create(ctx, run)).To(Succeed())
	return run
}

// runFor returns (does not create) a RestoreHookRun.
func runFor(namespace string, r *velerov1.Restore, specs ...v1alpha1.RestoreResourceHookSpec) *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "run-" + rand.String(5)},
		Spec: v1alpha1.RestoreHookRunSpec{
			RestoreRef: v1alpha1.RestoreReference{Name: r.Name, Namespace: veleroNS},
			Hooks:      v1alpha1.RestoreHooks{Resources: specs},
		},
	}
}

// hookSpec is a resource hook spec selecting pods with the given labels (nil: every pod).
func hookSpec(name string, matchLabels map[string]string, hooks ...*v1alpha1.ExecRestoreHook) v1alpha1.RestoreResourceHookSpec {
	s := v1alpha1.RestoreResourceHookSpec{Name: name}
	if matchLabels != nil {
		s.LabelSelector = &metav1.LabelSelector{MatchLabels: matchLabels}
	}
	for _, h := range hooks {
		s.PostHooks = append(s.PostHooks, v1alpha1.RestoreResourceHook{Exec: h})
	}
	return s
}

// shellHook is an exec hook running script with /bin/sh -c in container.
func shellHook(container, script string) *v1alpha1.ExecRestoreHook {
	return &v1alpha1.ExecRestoreHook{Container: container, Command: []string{"/bin/sh", "-c", script}}
}

// withRetries sets a hook's retries and retryDelay.
func withRetries(h *v1alpha1.ExecRestoreHook, retries int32, delay time.Duration) *v1alpha1.ExecRestoreHook {
	h.Retries = &retries
	h.RetryDelay = &metav1.Duration{Duration: delay}
	return h
}

// getRun fetches the run's current state.
func getRun(run *v1alpha1.RestoreHookRun) *v1alpha1.RestoreHookRun {
	GinkgoHelper()
	cur := &v1alpha1.RestoreHookRun{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur)).To(Succeed())
	return cur
}

// runPhase polls the run's phase.
func runPhase(run *v1alpha1.RestoreHookRun) func() v1alpha1.RunPhase {
	return func() v1alpha1.RunPhase {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			return v1alpha1.RunPhase(err.Error())
		}
		return cur.Status.Phase
	}
}

// records polls the run's records rendered as "pod/container:index=Phase(Reason)#attempts".
func records(run *v1alpha1.RestoreHookRun) func() []string {
	return func() []string {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, r := range cur.Status.Hooks {
			_, pod, _ := strings.Cut(r.Pod, "/")
			s := fmt.Sprintf("%s/%s:%d=%s", pod, r.Container, r.Index, r.Phase)
			if r.Reason != "" {
				s += "(" + string(r.Reason) + ")"
			}
			out = append(out, fmt.Sprintf("%s#%d", s, r.Attempts))
		}
		return out
	}
}

// waitTerminal waits until the run reaches a terminal phase and returns it; on timeout the failure
// lists the records.
func waitTerminal(run *v1alpha1.RestoreHookRun, timeout time.Duration) v1alpha1.RunPhase {
	GinkgoHelper()
	Eventually(func() bool { return runPhase(run)().IsTerminal() }, timeout).Should(BeTrue(),
		func() string { return fmt.Sprintf("run %s not terminal; records: %v", run.Name, records(run)()) })
	return runPhase(run)()
}

// record returns the run's record for (pod, container, index).
func record(run *v1alpha1.RestoreHookRun, pod, container string, index int32) v1alpha1.HookRecord {
	GinkgoHelper()
	for _, r := range getRun(run).Status.Hooks {
		if r.Pod == run.Namespace+"/"+pod && r.Container == container && r.Index == index {
			return r
		}
	}
	Fail(fmt.Sprintf("no record for %s/%s index %d in %v", pod, container, index, records(run)()))
	return v1alpha1.HookRecord{}
}

// Reading back what hook commands wrote (test/hookfiles).
var (
	lines     = hookfiles.Lines
	fileLines = hookfiles.Poll
)

// hookDir is a fresh directory for the files one spec's hooks write.
func hookDir() string { return hookfiles.Dir("rel-hooks-") }

// expectCountersAddUp checks the run's counters against its records.
func expectCountersAddUp(run *v1alpha1.RestoreHookRun) {
	GinkgoHelper()
	st := getRun(run).Status
	// Hooks Velero's server or another run runs are skipped here, never attempted (SPEC §9).
	var notOurs int32
	for i := range st.Hooks {
		if st.Hooks[i].NotOurs() {
			notOurs++
		}
	}
	Expect(st.HooksSucceeded + st.HooksFailed + st.HooksSkipped + st.HooksPending).To(Equal(st.HooksAttempted + notOurs))
	Expect(st.HooksAttempted + notOurs).To(BeEquivalentTo(int(st.HooksOmitted) + len(st.Hooks)))
	if st.Phase.IsTerminal() {
		Expect(st.HooksPending).To(BeZero())
		for _, r := range st.Hooks {
			Expect(r.Phase.IsFinished()).To(BeTrue(), "record %s %s:%d is %s in a terminal run", r.Pod, r.Container, r.Index, r.Phase)
		}
	}
}
