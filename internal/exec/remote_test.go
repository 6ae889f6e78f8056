package exec

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/rest"
	criremote "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilsexec "k8s.io/utils/exec"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// The tests below run RemoteExecutor against the real server side of the Kubernetes streaming
// protocols, wired as in a cluster:
//
//	client-go ──WebSocket v5──▶ fake API server ──(apiserver's StreamTranslatorHandler)──SPDY──▶ kubelet ServeExec
//	client-go ──SPDY v4──────▶ fake API server ──(kubelet ServeExec, as if proxied)
//
// ServeExec (k8s.io/cri-streaming, the kubelet's streaming server) runs commands with fakeRuntime.

// fakeRuntime is the container runtime behind ServeExec. Commands:
//
//	echo OUT ERR     writes OUT to stdout and ERR to stderr, exits 0
//	argv ...         writes its argv as JSON to stdout, exits 0
//	exit N           writes to stderr, exits N (a kubelet ExitError: the exit code travels in the status)
//	kwok-exit N      fails with os/exec's text "exit status N" (an internal error, as kwok's runtime does)
//	crash            fails with a runtime error
//	spew N           writes N bytes of numbered lines to stdout, exits 0
//	sleep            runs until released by the test (or the request ends)
type fakeRuntime struct {
	release chan struct{} // closed to end every sleep
	once    sync.Once
}

func (r *fakeRuntime) releaseSleepers() { r.once.Do(func() { close(r.release) }) }

func (r *fakeRuntime) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, _ io.Reader, stdout, stderr io.WriteCloser, _ bool, _ <-chan criremote.TerminalSize, _ time.Duration) error {
	arg := func(i int) string {
		if i < len(cmd) {
			return cmd[i]
		}
		return ""
	}
	switch arg(0) {
	case "echo":
		if _, err := io.WriteString(stdout, arg(1)); err != nil {
			return err
		}
		_, err := io.WriteString(stderr, arg(2))
		return err
	case "argv":
		return json.NewEncoder(stdout).Encode(cmd)
	case "exit":
		code, _ := strconv.Atoi(arg(1))
		if _, err := fmt.Fprintf(stderr, "failing with %d", code); err != nil {
			return err
		}
		return utilsexec.CodeExitError{Err: fmt.Errorf("exit %d", code), Code: code}
	case "kwok-exit":
		return fmt.Errorf("exit status %s", arg(1))
	case "crash":
		return errors.New("container runtime exploded")
	case "spew":
		n, _ := strconv.Atoi(arg(1))
		_, err := io.WriteString(stdout, spew(n))
		return err
	case "sleep":
		if _, err := io.WriteString(stdout, "started\n"); err != nil {
			return err
		}
		select {
		case <-r.release:
		case <-ctx.Done():
		}
		return nil
	}
	return fmt.Errorf("fake runtime: unknown command %q", cmd)
}

// spew is n bytes of numbered lines.
func spew(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %06d\n", i)
	}
	return b.String()[:n]
}

// fakeCluster is an API server serving pods/exec and the kubelet behind it.
type fakeCluster struct {
	apiServer        *httptest.Server
	kubelet          *httptest.Server
	containerRuntime *fakeRuntime

	mu sync.Mutex
	// requests is the protocol of every exec request that reached the API server, refused or not.
	requests  []string
	protocols []string                // "websocket" or "spdy", per exec request the API server accepted
	options   []corev1.PodExecOptions // as the API server decoded them
	// handshakes and resumed count the API server's TLS handshakes, and those that resumed a session.
	handshakes, resumed int
	// conns are the API server's connections, upgraded ones included, so a test can cut them.
	conns *trackingListener
}

// newFakeCluster starts the servers as tr says.
func newFakeCluster(t *testing.T, tr transport) *fakeCluster {
	t.Helper()
	c := &fakeCluster{containerRuntime: &fakeRuntime{release: make(chan struct{})}}
	const streamCreationTimeout = 10 * time.Second

	c.kubelet = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, err := criremote.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := r.URL.Query()
		criremote.ServeExec(w, r, c.containerRuntime, q.Get("pod"), "uid", q.Get("container"), q["cmd"], opts,
			time.Minute, streamCreationTimeout, criremote.SupportedStreamingProtocols)
	}))

	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/{namespace}/pods/{pod}/exec", func(w http.ResponseWriter, r *http.Request) {
		opts, err := decodePodExecOptions(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		isWebSocket := wsstream.IsWebSocketRequest(r)
		c.mu.Lock()
		c.requests = append(c.requests, map[bool]string{true: "websocket", false: "spdy"}[isWebSocket])
		c.mu.Unlock()
		if r.PathValue("pod") == "forbidden" {
			writeStatus(w, metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
				Message: `pods "forbidden" is forbidden: User "hooks" cannot create resource "pods/exec"`,
			})
			return
		}
		if isWebSocket && !tr.websocket {
			http.Error(w, "websocket upgrades are not supported here", http.StatusBadRequest)
			return
		}
		if serveFault(t, w, r.PathValue("pod")) {
			return
		}
		protocol := "spdy"
		if isWebSocket {
			protocol = "websocket"
		}
		c.mu.Lock()
		c.protocols = append(c.protocols, protocol)
		c.options = append(c.options, opts)
		c.mu.Unlock()

		streams := criremote.Options{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, TTY: opts.TTY}
		if isWebSocket {
			// What kube-apiserver does for WebSocket clients: translate to SPDY towards the kubelet.
			q := url.Values{"pod": {r.PathValue("pod")}, "container": {opts.Container}, "cmd": opts.Command}
			for param, on := range map[string]bool{"input": opts.Stdin, "output": opts.Stdout, "error": opts.Stderr, "tty": opts.TTY} {
				if on {
					q.Set(param, "1")
				}
			}
			location, err := url.Parse(c.kubelet.URL + "/exec?" + q.Encode())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			proxy.NewStreamTranslatorHandler(location, nil, 0, proxy.Options{
				Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY,
			}).ServeHTTP(w, r)
			return
		}
		// SPDY: kube-apiserver proxies the upgrade to the kubelet byte for byte; serve it here directly.
		criremote.ServeExec(w, r, c.containerRuntime, r.PathValue("pod"), "uid", opts.Container, opts.Command, &streams,
			time.Minute, streamCreationTimeout, criremote.SupportedStreamingProtocols)
	})
	c.apiServer = httptest.NewUnstartedServer(mux)
	c.conns = &trackingListener{Listener: c.apiServer.Listener}
	c.apiServer.Listener = c.conns
	c.apiServer.TLS = &tls.Config{VerifyConnection: func(cs tls.ConnectionState) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.handshakes++
		if cs.DidResume {
			c.resumed++
		}
		return nil
	}}
	if tr.tls {
		// HTTP/2 on, as on a real API server: upgrades must still go over HTTP/1.1.
		c.apiServer.EnableHTTP2 = true
		c.apiServer.StartTLS()
	} else {
		c.apiServer.Start()
	}

	t.Cleanup(func() {
		c.containerRuntime.releaseSleepers()
		c.apiServer.CloseClientConnections()
		c.apiServer.Close()
		c.kubelet.CloseClientConnections()
		c.kubelet.Close()
	})
	return c
}

// decodePodExecOptions reads pods/exec query parameters as kube-apiserver does (its generated
// url.Values conversion is not importable; the wire format is: booleans as "true", one "command" per
// argv element).
func decodePodExecOptions(q url.Values) (corev1.PodExecOptions, error) {
	opts := corev1.PodExecOptions{Container: q.Get("container"), Command: q["command"]}
	for param, field := range map[string]*bool{"stdin": &opts.Stdin, "stdout": &opts.Stdout, "stderr": &opts.Stderr, "tty": &opts.TTY} {
		if v := q.Get(param); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return opts, fmt.Errorf("parameter %s=%q: %w", param, v, err)
			}
			*field = b
		}
	}
	known := map[string]bool{"container": true, "command": true, "stdin": true, "stdout": true, "stderr": true, "tty": true}
	for param := range q {
		if !known[param] {
			return opts, fmt.Errorf("unknown pods/exec parameter %q", param)
		}
	}
	return opts, nil
}

func writeStatus(w http.ResponseWriter, status metav1.Status) {
	status.Kind, status.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(status)
}

func (c *fakeCluster) executor(t *testing.T) *RemoteExecutor {
	t.Helper()
	cfg := &rest.Config{Host: c.apiServer.URL}
	if cert := c.apiServer.Certificate(); cert != nil {
		cfg.CAData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	e, err := NewRemoteExecutor(cfg)
	if err != nil {
		t.Fatalf("NewRemoteExecutor: %v", err)
	}
	return e
}

func (c *fakeCluster) seen() ([]string, []corev1.PodExecOptions) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.protocols...), append([]corev1.PodExecOptions(nil), c.options...)
}

// transports are the two ways a RemoteExecutor reaches a container; every behaviour must hold on both.
var transports = []transport{
	{name: "websocket", websocket: true, protocol: "websocket"},
	{name: "spdy fallback", websocket: false, protocol: "spdy"},
	{name: "websocket over TLS", websocket: true, tls: true, protocol: "websocket"},
	{name: "spdy fallback over TLS", websocket: false, tls: true, protocol: "spdy"},
}

type transport struct {
	name string
	// websocket false: the API server refuses WebSocket upgrades, as API servers before 1.30 (or
	// proxies that drop WebSockets) do, so the executor must fall back to SPDY.
	websocket bool
	tls       bool   // serve HTTPS (with HTTP/2 enabled) instead of HTTP
	protocol  string // the streaming protocol the API server must end up serving
}

func remoteRequest(command ...string) Request {
	return Request{Namespace: "app", Pod: "db-0", Container: "postgres", Command: command, Timeout: 10 * time.Second, RecordOutput: true}
}

func TestRemoteExecutorOutcomes(t *testing.T) {
	bigOutput := spew(100_000)
	type outcome struct {
		ExitCode       int
		TimedOut       bool
		Reason         v1alpha1.HookReason
		Err            string // substring; "" for none
		Stdout, Stderr string
	}
	tests := map[string]struct {
		req  Request
		want outcome
	}{
		"success with output": {
			req:  remoteRequest("echo", "hello out\n", "hello err\n"),
			want: outcome{Stdout: "hello out\n", Stderr: "hello err\n"},
		},
		"unicode output": {
			req:  remoteRequest("echo", "größe ✓ 😀", ""),
			want: outcome{Stdout: "größe ✓ 😀"},
		},
		"non-zero exit": {
			req:  remoteRequest("exit", "3"),
			want: outcome{ExitCode: 3, Reason: v1alpha1.ReasonNonZeroExit, Err: "command terminated with exit code 3", Stderr: "failing with 3"},
		},
		"exit code 255": {
			req:  remoteRequest("exit", "255"),
			want: outcome{ExitCode: 255, Reason: v1alpha1.ReasonNonZeroExit, Err: "exit code 255", Stderr: "failing with 255"},
		},
		"kwok-style exit status in an internal error": {
			req:  remoteRequest("kwok-exit", "2"),
			want: outcome{ExitCode: 2, Reason: v1alpha1.ReasonNonZeroExit, Err: "command terminated with exit code 2"},
		},
		"runtime error": {
			req:  remoteRequest("crash"),
			want: outcome{ExitCode: -1, Reason: v1alpha1.ReasonExecError, Err: "container runtime exploded"},
		},
		"forbidden": {
			req:  Request{Namespace: "app", Pod: "forbidden", Container: "c", Command: []string{"echo"}, Timeout: 10 * time.Second},
			want: outcome{ExitCode: -1, Reason: v1alpha1.ReasonExecError, Err: `cannot create resource "pods/exec"`},
		},
		"no output kept without RecordOutput": {
			req: func() Request {
				r := remoteRequest("exit", "4")
				r.RecordOutput = false
				return r
			}(),
			want: outcome{ExitCode: 4, Reason: v1alpha1.ReasonNonZeroExit, Err: "exit code 4"},
		},
		"output over 1 KiB is tailed": {
			req:  remoteRequest("spew", "100000"),
			want: outcome{Stdout: truncationMark + bigOutput[len(bigOutput)-(MaxTail-len(truncationMark)):]},
		},
		"timeout": {
			req: func() Request {
				r := remoteRequest("sleep")
				r.Timeout = 300 * time.Millisecond
				return r
			}(),
			want: outcome{ExitCode: -1, TimedOut: true, Reason: v1alpha1.ReasonExecTimeout, Err: "command did not finish within 300ms", Stdout: "started\n"},
		},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			e := cluster.executor(t)
			for name, tc := range tests {
				t.Run(name, func(t *testing.T) {
					res := e.Exec(context.Background(), tc.req)
					got := outcome{ExitCode: res.ExitCode, TimedOut: res.TimedOut, Reason: res.Reason(), Stdout: res.Stdout, Stderr: res.Stderr}
					if res.Err != nil && tc.want.Err != "" && strings.Contains(res.Err.Error(), tc.want.Err) {
						got.Err = tc.want.Err
					} else if res.Err != nil {
						got.Err = res.Err.Error()
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("Exec(%q) mismatch (-want +got):\n%s", tc.req.Command, diff)
					}
					if res.Duration <= 0 || res.Duration > 5*time.Second {
						t.Errorf("Duration = %s", res.Duration)
					}
				})
			}
			protocols, _ := cluster.seen()
			for _, p := range protocols {
				if p != tr.protocol {
					t.Errorf("API server saw a %s exec, want only %s", p, tr.protocol)
				}
			}
		})
	}
}

func TestRemoteExecutorSendsTheRequestVerbatim(t *testing.T) {
	argv := []string{"argv", "/bin/sh", "-c", `echo "a  b" $HOME; rm -rf / && exit 1`, "", "--flag=x y", "ünïcode"}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			res := cluster.executor(t).Exec(context.Background(), remoteRequest(argv...))
			if !res.Succeeded() {
				t.Fatalf("Exec: %+v", res)
			}
			var ran []string
			if err := json.Unmarshal([]byte(res.Stdout), &ran); err != nil {
				t.Fatalf("runtime output %q: %v", res.Stdout, err)
			}
			if diff := cmp.Diff(argv, ran); diff != "" {
				t.Errorf("argv the container ran mismatch (-want +got):\n%s", diff)
			}
			_, options := cluster.seen()
			want := []corev1.PodExecOptions{{Container: "postgres", Command: argv, Stdin: false, Stdout: true, Stderr: true, TTY: false}}
			if diff := cmp.Diff(want, options); diff != "" {
				t.Errorf("pods/exec options mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A RemoteExecutor is shared by the reconciler's goroutines: many execs, sequential and concurrent,
// over one rest.Config.
func TestRemoteExecutorManyExecs(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			e := cluster.executor(t)
			for i := range 10 {
				want := fmt.Sprintf("sequential %d", i)
				if res := e.Exec(context.Background(), remoteRequest("echo", want, "")); res.Stdout != want {
					t.Errorf("sequential exec %d: %+v", i, res)
				}
			}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					want := fmt.Sprintf("concurrent %d", i)
					code := strconv.Itoa(i + 1)
					res := e.Exec(context.Background(), remoteRequest("echo", want, ""))
					if res.Stdout != want {
						t.Errorf("concurrent exec %d: %+v", i, res)
					}
					if res := e.Exec(context.Background(), remoteRequest("exit", code)); res.ExitCode != i+1 {
						t.Errorf("concurrent exit %d: %+v", i, res)
					}
				})
			}
			wg.Wait()
		})
	}
}

// Every exec is a new TLS connection; after the first, they resume its session rather than pay for a
// full handshake (certificate signatures and verifications on both sides).
func TestRemoteExecutorResumesTLSSessions(t *testing.T) {
	cluster := newFakeCluster(t, transport{websocket: true, tls: true, protocol: "websocket"})
	e := cluster.executor(t)
	for i := range 5 {
		if res := e.Exec(context.Background(), remoteRequest("echo", "hi", "")); res.Stdout != "hi" {
			t.Fatalf("exec %d: %+v", i, res)
		}
	}
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	if cluster.handshakes != 5 || cluster.resumed != 4 {
		t.Errorf("API server saw %d TLS handshakes, %d resumed; want 5, 4 resumed (one connection per exec, all but the first resumed)",
			cluster.handshakes, cluster.resumed)
	}
}

func TestRemoteExecutorCallerCancels(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			res := cluster.executor(t).Exec(ctx, remoteRequest("sleep"))
			if res.TimedOut || res.Reason() != v1alpha1.ReasonExecError || !errors.Is(res.Err, context.Canceled) {
				t.Fatalf("got %+v, want an ExecError wrapping context.Canceled", res)
			}
			if res.Duration > 5*time.Second {
				t.Errorf("Exec returned %s after the cancel", res.Duration)
			}
		})
	}
}

func TestRemoteExecutorUnreachable(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	server.Close() // nothing listens there any more
	e, err := NewRemoteExecutor(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	res := e.Exec(context.Background(), remoteRequest("echo"))
	if res.Reason() != v1alpha1.ReasonExecError || res.ExitCode != -1 || !strings.Contains(res.Err.Error(), "app/db-0") {
		t.Fatalf("got %+v, want an ExecError naming the pod", res)
	}
}

func TestRemoteExecutorRejectsInvalidRequests(t *testing.T) {
	e, err := NewRemoteExecutor(&rest.Config{Host: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]Request{
		"no timeout": {Namespace: "app", Pod: "p", Command: []string{"true"}},
		"no command": {Namespace: "app", Pod: "p", Timeout: time.Second},
		"no pod":     {Namespace: "app", Command: []string{"true"}, Timeout: time.Second},
	} {
		if res := e.Exec(context.Background(), req); res.Reason() != v1alpha1.ReasonExecError {
			t.Errorf("%s: got %+v, want ExecError", name, res)
		}
	}
	if _, err := NewRemoteExecutor(nil); err == nil {
		t.Error("NewRemoteExecutor(nil) succeeded")
	}
}

// A timed-out exec must leave nothing running on the client: the reconciler runs one goroutine per
// in-flight exec and must not accumulate goroutines. The server side is released afterwards, so the
// goroutine count can return to where it was.
func TestRemoteExecutorTimeoutLeaksNoGoroutine(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			e := cluster.executor(t)
			// Warm up, so goroutines started once per process are in the baseline.
			if res := e.Exec(context.Background(), remoteRequest("echo", "warm", "")); !res.Succeeded() {
				t.Fatalf("warm-up: %+v", res)
			}
			before := settledGoroutines()

			const timeouts = 5
			for range timeouts {
				req := remoteRequest("sleep")
				req.Timeout = 200 * time.Millisecond
				res := e.Exec(context.Background(), req)
				if !res.TimedOut {
					t.Fatalf("got %+v, want a timeout", res)
				}
				if res.Duration > 3*time.Second {
					t.Fatalf("Exec returned %s after a 200ms timeout", res.Duration)
				}
			}
			cluster.containerRuntime.releaseSleepers()

			// client-go's WebSocket heartbeat notices the closed connection at its next 5s tick; over SPDY,
			// a timeout that strikes while a stream is being created leaves client-go waiting for the
			// stream's reply for up to its createStreamResponseTimeout (30s). Both are bounded by client-go;
			// what must not happen is a goroutine that never ends.
			deadline := time.Now().Add(35 * time.Second)
			for runtime.NumGoroutine() > before {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("%d goroutines after %d timed-out execs, %d before:\n%s",
						runtime.NumGoroutine(), timeouts, before, buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// settledGoroutines waits until the goroutine count stops changing and returns it.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 40 {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}
