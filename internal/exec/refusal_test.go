package exec

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// trackingListener keeps every connection it accepted, hijacked (upgraded) ones included, so a test
// can cut exec streams part-way; httptest.Server forgets a connection once it is hijacked.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// cut closes every connection accepted so far.
func (l *trackingListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

// serveFault answers the exec requests of pods named "fault-…" the way an API server, a proxy in
// front of it or the network refuses them, before any upgrade; false for other pods.
func serveFault(t *testing.T, w http.ResponseWriter, pod string) bool {
	fault, ok := strings.CutPrefix(pod, "fault-")
	if !ok {
		return false
	}
	switch fault {
	case "429":
		// kube-apiserver's priority and fairness filter: a Retry-After header and a text body.
		w.Header().Set("Retry-After", "7")
		http.Error(w, "Too many requests, please try again later.", http.StatusTooManyRequests)
	case "503":
		writeStatus(w, metav1.Status{Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable,
			Reason: metav1.StatusReasonServiceUnavailable, Message: "the server is shutting down",
			Details: &metav1.StatusDetails{RetryAfterSeconds: 2}})
	case "502":
		http.Error(w, "bad gateway", http.StatusBadGateway)
	case "webhook-403":
		writeStatus(w, metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: `admission webhook "exec-policy.example.com" denied the request: exec is paused during the restore`})
	case "404":
		writeStatus(w, metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
			Message: `pods "fault-404" not found`})
	case "reset", "close":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return true
		}
		if tcp, ok := conn.(*net.TCPConn); ok && fault == "reset" {
			_ = tcp.SetLinger(0) // close with a TCP RST: "connection reset by peer" on the client
		}
		_ = conn.Close()
	default:
		t.Errorf("unknown fault %q", fault)
		http.Error(w, "unknown fault", http.StatusInternalServerError)
	}
	return true
}

func (c *fakeCluster) requestProtocols() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.requests...)
}

// Every failure of a real exec, over WebSocket and over the SPDY fallback, is classified by whether
// the command can have started: a refusal (with its cause, Retry-After and whether sending again may
// help) before the upgrade, an exec error that is no refusal after it. A busy server's refusal never
// switches the exec to SPDY.
func TestRemoteExecutorClassifiesFailures(t *testing.T) {
	type outcome struct {
		Reason  v1alpha1.HookReason
		Refused *Refusal
		Err     string // substring
	}
	ws, fallback := []string{"websocket"}, []string{"websocket", "spdy"}
	tests := map[string]struct {
		pod  string
		want outcome
		// overWebSocket are the protocols of the requests the API server gets when it accepts WebSocket.
		overWebSocket []string
	}{
		"429 with a Retry-After header": {pod: "fault-429", overWebSocket: ws, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "429", StatusCode: 429, RetryAfter: 7 * time.Second, Transient: true},
			Err:     "refused before start (429), retry after 7s"}},
		"503 Status with retryAfterSeconds": {pod: "fault-503", overWebSocket: ws, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "503", StatusCode: 503, RetryAfter: 2 * time.Second, Transient: true},
			Err:     "the server is shutting down"}},
		"502 from a proxy": {pod: "fault-502", overWebSocket: ws, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "502", StatusCode: 502, Transient: true}, Err: "bad gateway"}},
		"403 from an admission webhook": {pod: "fault-webhook-403", overWebSocket: fallback, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "403", StatusCode: 403, Transient: true}, Err: "exec is paused during the restore"}},
		"404: the pod is gone": {pod: "fault-404", overWebSocket: fallback, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "404", StatusCode: 404}, Err: `pods "fault-404" not found`}},
		"connection reset before a response": {pod: "fault-reset", overWebSocket: ws, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "connection reset", Transient: true}, Err: "refused before start (connection reset)"}},
		"connection closed before a response": {pod: "fault-close", overWebSocket: ws, want: outcome{Reason: v1alpha1.ReasonExecError,
			Refused: &Refusal{Cause: "connection closed before a response", Transient: true}, Err: "refused before start"}},
		"a command that fails to start in the runtime may have started": {pod: "db-0", overWebSocket: ws, want: outcome{
			Reason: v1alpha1.ReasonExecError, Err: "container runtime exploded"}},
	}
	for _, tr := range transports[:2] {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			e := cluster.executor(t)
			for name, tc := range tests {
				t.Run(name, func(t *testing.T) {
					before := len(cluster.requestProtocols())
					req := remoteRequest("crash")
					req.Pod = tc.pod
					res := e.Exec(context.Background(), req)
					got := outcome{Reason: res.Reason(), Refused: res.Refused}
					if res.Err != nil && strings.Contains(res.Err.Error(), tc.want.Err) {
						got.Err = tc.want.Err
					} else if res.Err != nil {
						got.Err = res.Err.Error()
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("Exec mismatch (-want +got):\n%s", diff)
					}
					// Over WebSocket only a refused protocol switches to SPDY; a 403 or 404 does too (a server that
					// authorizes WebSocket execs as `get` may answer SPDY's `create` differently), a busy server
					// does not. The SPDY transport refuses WebSocket with a 400 first.
					want := tc.overWebSocket
					if !tr.websocket {
						want = []string{"websocket", "spdy"}
					}
					if diff := cmp.Diff(want, cluster.requestProtocols()[before:]); diff != "" {
						t.Errorf("protocols of the requests the API server got (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// A stream cut after the upgrade may have started the command: an exec error, never a refusal, and
// never sent again over SPDY. WebSocket only: over SPDY, client-go reports a connection that ends
// while the command runs as a success (its error stream ends without a status, which is also how a
// command that exited 0 ends), so an exec over the SPDY fallback cannot tell a cut from an exit 0.
func TestRemoteExecutorStreamCutIsNoRefusal(t *testing.T) {
	for _, tr := range []transport{transports[0], transports[2]} {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			e := cluster.executor(t)
			done := make(chan Result, 1)
			go func() { done <- e.Exec(context.Background(), remoteRequest("sleep")) }()
			deadline := time.Now().Add(10 * time.Second)
			for protocols, _ := cluster.seen(); len(protocols) == 0; protocols, _ = cluster.seen() {
				if time.Now().After(deadline) {
					t.Fatal("the exec never reached the API server")
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // the command runs
			cluster.conns.cut()
			var res Result
			select {
			case res = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("Exec did not return after its stream was cut")
			}
			if res.Reason() != v1alpha1.ReasonExecError || res.Refused != nil || res.TimedOut {
				t.Errorf("got %+v (refused %v), want an ExecError that is no refusal", res, res.Refused)
			}
			if diff := cmp.Diff([]string{"websocket"}, cluster.requestProtocols()); diff != "" {
				t.Errorf("the cut stream was sent again (-want +got):\n%s", diff)
			}
		})
	}
}

// Failures before any request reached a server: nothing listens, or its certificate is not trusted.
func TestRemoteExecutorRefusedBeforeConnecting(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	for name, tc := range map[string]struct {
		host  string
		cause string
	}{
		"nothing listens":         {host: closed.URL, cause: "dial error"},
		"certificate not trusted": {host: untrusted.URL, cause: "TLS handshake"},
	} {
		t.Run(name, func(t *testing.T) {
			e, err := NewRemoteExecutor(&rest.Config{Host: tc.host})
			if err != nil {
				t.Fatal(err)
			}
			res := e.Exec(context.Background(), remoteRequest("echo"))
			want := &Refusal{Cause: tc.cause, Transient: true}
			if diff := cmp.Diff(want, res.Refused); diff != "" || res.Reason() != v1alpha1.ReasonExecError {
				t.Errorf("refusal mismatch (-want +got):\n%s\nresult %+v", diff, res)
			}
		})
	}
}

// The rules on what the transport saw, with the error values client-go and the standard library
// produce.
func TestRefusal(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	dialErr := realDialError(t)
	tlsErr := realTLSError(t)
	tests := map[string]struct {
		seen observation
		want *Refusal
	}{
		"upgraded, then anything":     {seen: observation{upgraded: true, err: io.EOF}, want: nil},
		"nothing seen (client error)": {seen: observation{}, want: nil},
		"dial error":                  {seen: observation{err: dialErr}, want: &Refusal{Cause: "dial error", Transient: true}},
		"TLS handshake":               {seen: observation{err: tlsErr}, want: &Refusal{Cause: "TLS handshake", Transient: true}},
		"reset": {seen: observation{err: &net.OpError{Op: "read", Net: "tcp", Err: &netSyscallError{syscall.ECONNRESET}}},
			want: &Refusal{Cause: "connection reset", Transient: true}},
		"EOF":            {seen: observation{err: io.EOF}, want: &Refusal{Cause: "connection closed before a response", Transient: true}},
		"unexpected EOF": {seen: observation{err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF)}, want: &Refusal{Cause: "connection closed before a response", Transient: true}},
		"other":          {seen: observation{err: errors.New("proxyconnect tcp: refused")}, want: &Refusal{Cause: "transport error", Transient: true}},
		"429 header seconds": {seen: observation{status: 429, header: http.Header{"Retry-After": {"3"}}},
			want: &Refusal{Cause: "429", StatusCode: 429, RetryAfter: 3 * time.Second, Transient: true}},
		"503 header date": {seen: observation{status: 503, header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}},
			want: &Refusal{Cause: "503", StatusCode: 503, RetryAfter: 90 * time.Second, Transient: true}},
		"500 Status body": {seen: observation{status: 500, body: []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500,"details":{"retryAfterSeconds":4}}`)},
			want: &Refusal{Cause: "500", StatusCode: 500, RetryAfter: 4 * time.Second, Transient: true}},
		"Retry-After capped": {seen: observation{status: 429, header: http.Header{"Retry-After": {"86400"}}},
			want: &Refusal{Cause: "429", StatusCode: 429, RetryAfter: maxRetryAfter, Transient: true}},
		"bad Retry-After ignored": {seen: observation{status: 429, header: http.Header{"Retry-After": {"soon"}}},
			want: &Refusal{Cause: "429", StatusCode: 429, Transient: true}},
		"401":                {seen: observation{status: 401}, want: &Refusal{Cause: "401", StatusCode: 401, Transient: true}},
		"403":                {seen: observation{status: 403}, want: &Refusal{Cause: "403", StatusCode: 403, Transient: true}},
		"408":                {seen: observation{status: 408}, want: &Refusal{Cause: "408", StatusCode: 408, Transient: true}},
		"504":                {seen: observation{status: 504}, want: &Refusal{Cause: "504", StatusCode: 504, Transient: true}},
		"400 is permanent":   {seen: observation{status: 400}, want: &Refusal{Cause: "400", StatusCode: 400}},
		"404 is permanent":   {seen: observation{status: 404}, want: &Refusal{Cause: "404", StatusCode: 404}},
		"501 is permanent":   {seen: observation{status: 501}, want: &Refusal{Cause: "501", StatusCode: 501}},
		"status beats error": {seen: observation{status: 503, err: io.EOF}, want: &Refusal{Cause: "503", StatusCode: 503, Transient: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, refusal(tc.seen, now)); diff != "" {
				t.Errorf("refusal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// netSyscallError is an os.SyscallError-like wrapper, as the net package returns from a read.
type netSyscallError struct{ err error }

func (e *netSyscallError) Error() string { return "read: " + e.err.Error() }
func (e *netSyscallError) Unwrap() error { return e.err }

func realDialError(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		_ = conn.Close()
		t.Fatal("dialing a closed port succeeded")
	}
	return err
}

func realTLSError(t *testing.T) error {
	t.Helper()
	s := httptest.NewTLSServer(http.NotFoundHandler())
	defer s.Close()
	conn, err := tls.Dial("tcp", s.Listener.Addr().String(), &tls.Config{ServerName: "example.com"})
	if err == nil {
		_ = conn.Close()
		t.Fatal("TLS handshake with an untrusted certificate succeeded")
	}
	return err
}

// Which WebSocket failures fall back to SPDY: a refused protocol does, a busy server does not.
func TestFallBackToSPDY(t *testing.T) {
	upgradeFailure := &httpstream.UpgradeFailureError{Cause: errors.New("websocket: bad handshake")}
	tests := map[string]struct {
		err  error
		seen observation
		want bool
	}{
		"400 upgrade refused":          {err: upgradeFailure, seen: observation{status: 400}, want: true},
		"403 (authorized per verb)":    {err: upgradeFailure, seen: observation{status: 403}, want: true},
		"501 from a proxy":             {err: upgradeFailure, seen: observation{status: 501}, want: true},
		"wrong subprotocol after 101":  {err: upgradeFailure, seen: observation{upgraded: true}, want: true},
		"429 stays on WebSocket":       {err: upgradeFailure, seen: observation{status: 429}, want: false},
		"503 stays on WebSocket":       {err: upgradeFailure, seen: observation{status: 503}, want: false},
		"408 stays on WebSocket":       {err: upgradeFailure, seen: observation{status: 408}, want: false},
		"reset is no upgrade failure":  {err: syscall.ECONNRESET, seen: observation{err: syscall.ECONNRESET}, want: false},
		"stream error after upgrading": {err: errors.New("next reader: EOF"), seen: observation{upgraded: true}, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := fallBackToSPDY(tc.err, tc.seen); got != tc.want {
				t.Errorf("fallBackToSPDY = %v, want %v", got, tc.want)
			}
		})
	}
}
