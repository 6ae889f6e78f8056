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
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// faultMix says which faults a faultProxy injects.
type faultMix struct {
	// refuseEvery: one request in refuseEvery (of exec requests, and separately of other requests) is
	// refused before it is forwarded: answered 500, answered 429 with a Retry-After, or reset, in turn.
	refuseEvery int
	// cutEvery: one exec stream in cutEvery that the API server upgraded is cut part-way, at a random
	// moment in its first maxCutDelay; 0 cuts none.
	cutEvery    int
	maxCutDelay time.Duration
}

// faultProxy is a reverse proxy between the manager and the API server that injects faults: what a
// flaky API server, a load balancer in front of it, or API priority and fairness does to requests. The
// manager reaches it over plain HTTP without credentials; it forwards with the suite's admin identity.
type faultProxy struct {
	mix    faultMix
	server *httptest.Server
	proxy  *httputil.ReverseProxy

	mu sync.Mutex
	// armed: faults are injected (from when the manager is up: a manager that cannot discover the API
	// at start-up exits, which is not what this tests).
	armed bool
	rng   *rand.Rand
	// seen counts requests by class ("exec", "other"); faults counts injected faults by kind and class.
	seen   map[string]int
	faults map[string]int
	// upgraded and cut count exec streams by target (pod and script): upgraded by the API server, and
	// cut part-way by the proxy while still open.
	upgraded map[string]int
	cut      map[string]int
}

func startFaultProxy(mix faultMix) *faultProxy {
	GinkgoHelper()
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	backend, err := url.Parse(host)
	Expect(err).NotTo(HaveOccurred())
	rt, err := rest.TransportFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	p := &faultProxy{
		mix: mix, rng: rand.New(rand.NewPCG(18, 2026)),
		seen: map[string]int{}, faults: map[string]int{}, upgraded: map[string]int{}, cut: map[string]int{},
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(backend) },
		Transport:     &streamCutter{rt: rt, p: p},
		FlushInterval: -1, // watches and exec streams: pass every byte on at once
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	DeferCleanup(func() {
		p.server.CloseClientConnections()
		p.server.Close()
	})
	return p
}

// kubeconfig writes a kubeconfig that reaches the API server through the proxy.
func (p *faultProxy) kubeconfig() string {
	GinkgoHelper()
	kc := filepath.Join(hookDir(), "kubeconfig")
	Expect(localcluster.WriteKubeconfig(&rest.Config{Host: p.server.URL}, kc)).To(Succeed())
	return kc
}

func isExec(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/exec") }

// execTarget names an exec request's target: its pod and the last element of its command (the script).
func execTarget(r *http.Request) string {
	parts := strings.Split(strings.TrimSuffix(r.URL.Path, "/exec"), "/")
	cmd := r.URL.Query()["command"]
	script := ""
	if len(cmd) > 0 {
		script = cmd[len(cmd)-1]
	}
	return parts[len(parts)-1] + " " + script
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	class := "other"
	if isExec(r) {
		class = "exec"
	}
	p.mu.Lock()
	p.seen[class]++
	kind := ""
	if n := p.seen[class]; p.armed && p.mix.refuseEvery > 0 && n%p.mix.refuseEvery == 0 {
		kind = []string{"500", "429", "reset"}[(n/p.mix.refuseEvery)%3]
		p.faults[kind+" "+class]++
	}
	p.mu.Unlock()
	switch kind {
	case "500":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected: internal error","reason":"InternalError","code":500}`)
	case "429":
		// As API priority and fairness answers: a Retry-After header and a text body.
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Too many requests, please try again later.", http.StatusTooManyRequests)
	case "reset":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

// streamCutter forwards requests to the API server; of the exec streams it upgrades, it cuts one in
// cutEvery part-way.
type streamCutter struct {
	rt http.RoundTripper
	p  *faultProxy
}

func (c *streamCutter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || !isExec(req) {
		return resp, err
	}
	p, target := c.p, execTarget(req)
	p.mu.Lock()
	p.upgraded[target]++
	n := 0
	for _, v := range p.upgraded {
		n += v
	}
	cutIt := p.armed && p.mix.cutEvery > 0 && n%p.mix.cutEvery == 0
	delay := time.Duration(0)
	if cutIt {
		delay = time.Duration(p.rng.Int64N(int64(p.mix.maxCutDelay)))
	}
	p.mu.Unlock()
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !cutIt || !ok {
		return resp, nil
	}
	s := &cuttableStream{ReadWriteCloser: rwc}
	time.AfterFunc(delay, func() {
		if s.cut() {
			p.mu.Lock()
			p.cut[target]++
			p.faults["cut exec"]++
			p.mu.Unlock()
		}
	})
	resp.Body = s
	return resp, nil
}

// cuttableStream is the API server side of an upgraded exec stream, which the proxy may cut.
type cuttableStream struct {
	io.ReadWriteCloser
	mu     sync.Mutex
	closed bool
}

func (s *cuttableStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.ReadWriteCloser.Close()
}

// cut closes the stream unless it already ended, and says whether it did.
func (s *cuttableStream) cut() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.ReadWriteCloser.Close()
	return true
}

func (p *faultProxy) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = true
}

func (p *faultProxy) figures() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var kinds []string
	for k, v := range p.faults {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(kinds)
	upgraded := 0
	for _, v := range p.upgraded {
		upgraded += v
	}
	return fmt.Sprintf("requests: exec %d (upgraded %d), other %d; faults: %s",
		p.seen["exec"], upgraded, p.seen["other"], strings.Join(kinds, " "))
}

func (p *faultProxy) faultCount(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults[kind]
}

func (p *faultProxy) wasCut(target string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[target] > 0
}

// faultedRestore is one restore of pods × 2 hooks run by a manager behind p: every hook appends its
// name to its pod's file and stays a little, so a cut stream can land mid-command.
type faultedRestore struct {
	run     *v1alpha1.RestoreHookRun
	dir     string
	pods    []string
	scripts map[string]string // "pod index" → the hook's script
}

func runFaultedRestore(p *faultProxy, name string, pods int) *faultedRestore {
	GinkgoHelper()
	startManager(name, managerFlags{webhooks: true, kubeconfig: p.kubeconfig()})
	p.arm()
	ns, restore := newNamespace(), newRestore()
	fr := &faultedRestore{dir: hookDir(), scripts: map[string]string{}}
	var specs []v1alpha1.RestoreResourceHookSpec
	for i := range pods {
		pod := fmt.Sprintf("p-%02d", i)
		fr.pods = append(fr.pods, pod)
		file := filepath.Join(fr.dir, pod)
		var hooks []*v1alpha1.ExecRestoreHook
		for h := range 2 {
			script := fmt.Sprintf("echo h%d >> %s; sleep 0.2", h, file)
			fr.scripts[fmt.Sprintf("%s %d", pod, h)] = script
			hooks = append(hooks, shellHook("main", script))
		}
		specs = append(specs, hookSpec(pod, map[string]string{"pod": pod}, hooks...))
	}
	fr.run = newRun(ns, restore, specs...)
	for _, pod := range fr.pods {
		Expect(kwok.CreateManagedPod(ctx, restoredPod(ns, pod, restore, map[string]string{"pod": pod}, nil, "main"))).To(Succeed())
	}
	completeRestore(restore)
	return fr
}

// outcome tallies the run's records by phase and reason, for the test log.
func (fr *faultedRestore) outcome() (tally map[string]int, recs []v1alpha1.HookRecord) {
	GinkgoHelper()
	recs = getRun(fr.run).Status.Hooks
	tally = map[string]int{}
	for _, r := range recs {
		tally[string(r.Phase)+"/"+string(r.Reason)]++
	}
	return tally, recs
}

var _ = Describe("A flaky API server", func() {
	const pods = 30

	It("fails no hook it refused before the hook started: every hook succeeds, exactly once", func() {
		p := startFaultProxy(faultMix{refuseEvery: 10})
		fr := runFaultedRestore(p, "flaky-refusals", pods)

		Expect(waitTerminal(fr.run, 4*time.Minute)).To(Equal(v1alpha1.RunPhaseCompleted), "records: %v", records(fr.run)())
		tally, recs := fr.outcome()
		AddReportEntry("refusals only", fmt.Sprintf("%s; hooks %d: %v", p.figures(), len(recs), tally))
		resent := 0
		for _, r := range recs {
			Expect(r.Phase).To(Equal(v1alpha1.HookPhaseSucceeded), "%s %s:%d: %s", r.Pod, r.Container, r.Index, r.Message)
			Expect(r.Attempts).To(BeEquivalentTo(1), "a refused send is no attempt: %s", r.Message)
			if strings.Contains(r.Message, "refused before start") {
				resent++
				Expect(r.Message).To(MatchRegexp(`^command exited 0; sent \d+ times: refused before start \(`))
			}
		}
		AddReportEntry("sent again after a refusal", fmt.Sprintf("%d hooks; e.g. %q", resent, exampleRefusal(recs)))
		Expect(recs).To(HaveLen(2 * pods))
		for _, pod := range fr.pods {
			Expect(lines(filepath.Join(fr.dir, pod))).To(Equal([]string{"h0", "h1"}), "pod %s: each hook ran exactly once, in order", pod)
		}
		// The faults happened, to exec requests too: the test would prove nothing otherwise.
		for _, kind := range []string{"500 exec", "429 exec", "reset exec", "500 other", "429 other", "reset other"} {
			Expect(p.faultCount(kind)).To(BeNumerically(">", 0), "no %s fault injected: %s", kind, p.figures())
		}
		Expect(resent).To(BeNumerically(">", 0))
		expectCountersAddUp(fr.run)
	})

	It("runs no hook twice and loses no record when streams are also cut part-way", func() {
		p := startFaultProxy(faultMix{refuseEvery: 10, cutEvery: 5, maxCutDelay: 300 * time.Millisecond})
		fr := runFaultedRestore(p, "flaky-cuts", pods)

		phase := waitTerminal(fr.run, 4*time.Minute)
		Expect(phase).To(BeElementOf(v1alpha1.RunPhaseCompleted, v1alpha1.RunPhasePartiallyFailed))
		tally, recs := fr.outcome()
		AddReportEntry("refusals and cut streams", fmt.Sprintf("%s; hooks %d: %v; run %s", p.figures(), len(recs), tally, phase))
		Expect(recs).To(HaveLen(2*pods), "no record lost")
		execErrors := 0
		for _, r := range recs {
			Expect(r.Phase).To(BeElementOf(v1alpha1.HookPhaseSucceeded, v1alpha1.HookPhaseFailed), "%s %s:%d", r.Pod, r.Container, r.Index)
			Expect(r.Attempts).To(BeEquivalentTo(1))
			if r.Phase == v1alpha1.HookPhaseFailed {
				// The only failure these faults may cause: a stream the proxy cut after the API server
				// upgraded it, when the command may have started.
				Expect(r.Reason).To(Equal(v1alpha1.ReasonExecError), "%s %s:%d: %s", r.Pod, r.Container, r.Index, r.Message)
				_, pod, _ := strings.Cut(r.Pod, "/")
				target := pod + " " + fr.scripts[fmt.Sprintf("%s %d", pod, r.Index)]
				Expect(p.wasCut(target)).To(BeTrue(), "ExecError for %s hook %d, whose stream was never cut: %s", pod, r.Index, r.Message)
				execErrors++
			}
		}
		for _, pod := range fr.pods {
			ran := lines(filepath.Join(fr.dir, pod))
			Expect(ran).To(HaveLen(len(slices.Compact(slices.Sorted(slices.Values(ran))))), "pod %s: a hook ran twice: %v", pod, ran)
			// Empty when both of the pod's streams were cut before their commands ran (gomega's HaveEach
			// refuses an empty slice).
			Expect(ran).To(Or(BeEmpty(), HaveEach(BeElementOf("h0", "h1"))))
		}
		AddReportEntry("ExecError", fmt.Sprintf("%d of %d hooks, every one a stream cut after the upgrade; streams cut: %d",
			execErrors, len(recs), p.faultCount("cut exec")))
		Expect(p.faultCount("cut exec")).To(BeNumerically(">", 0), "no stream was cut: %s", p.figures())
		expectCountersAddUp(fr.run)
	})
})

// exampleRefusal returns the message of a record that was sent again after a refusal.
func exampleRefusal(recs []v1alpha1.HookRecord) string {
	for _, r := range recs {
		if strings.Contains(r.Message, "refused before start") {
			return r.Message
		}
	}
	return ""
}
