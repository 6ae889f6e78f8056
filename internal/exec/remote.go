package exec

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	// Not k8s.io/apimachinery/pkg/util/httpstream: client-go v0.36's WebSocket round tripper returns
	// k8s.io/streaming's UpgradeFailureError, a different type, so apimachinery's deprecated
	// IsUpgradeFailure never matches it and the SPDY fallback would never happen.
	"k8s.io/streaming/pkg/httpstream"
)

// errTimedOut is the cause of the per-request context when Request.Timeout passes.
var errTimedOut = errors.New("exec timeout")

// RemoteExecutor runs commands through the pods/exec subresource: WebSocket (protocol
// v5.channel.k8s.io, see webSocketStreams) first, client-go's SPDY executor when the server refuses the
// WebSocket upgrade (API servers before 1.30, or proxies that do not pass WebSockets), but not when it
// is only busy or unwell (408, 429, 5xx). A failure before the upgrade is a Refusal: the command did
// not start. Safe for concurrent use.
//
// Every Exec opens its own streaming connection (upgraded connections are never pooled). The rest.Config,
// the REST client that builds URLs, the WebSocket transport and its TLS session cache are shared: every
// exec is a new TLS connection to the same API server, and resuming a session (TLS 1.3 PSK) skips the
// certificate signatures and verifications of a full handshake on both sides, which are a large part of
// an exec's cost to the client and the API server. The SPDY executor is only built when the WebSocket
// upgrade was refused.
type RemoteExecutor struct {
	config     *rest.Config
	pods       rest.Interface // core/v1 REST client; only builds pods/exec URLs
	ws         *webSocketStreams
	paramCodec runtime.ParameterCodec
}

var _ Executor = (*RemoteExecutor)(nil)

// NewRemoteExecutor returns a RemoteExecutor that talks to the API server of cfg with its credentials.
// cfg is copied; later changes to it have no effect.
func NewRemoteExecutor(cfg *rest.Config) (*RemoteExecutor, error) {
	if cfg == nil {
		return nil, errors.New("exec: nil rest.Config")
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("exec: register core/v1: %w", err)
	}
	config := rest.CopyConfig(cfg)
	config.APIPath = "/api"
	config.GroupVersion = &corev1.SchemeGroupVersion
	config.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if config.UserAgent == "" {
		config.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	ws, err := newWebSocketStreams(config, tls.NewLRUClientSessionCache(0))
	if err != nil {
		return nil, fmt.Errorf("exec: websocket transport: %w", err)
	}
	config.WrapTransport = observeUpgrades(config.WrapTransport)
	pods, err := rest.RESTClientFor(config)
	if err != nil {
		return nil, fmt.Errorf("exec: core/v1 REST client: %w", err)
	}
	return &RemoteExecutor{config: config, pods: pods, ws: ws, paramCodec: runtime.NewParameterCodec(scheme)}, nil
}

// Exec runs req.Command in the container and waits for it, at most req.Timeout and no longer than
// ctx allows.
//
// When Exec returns, the connection is closed and every client-go goroutine of the call has been
// told to stop; they end moments later, except the WebSocket heartbeat, which notices the closed
// connection at its next tick (client-go pings every 5s), so it can outlive Exec by up to that long.
func (e *RemoteExecutor) Exec(ctx context.Context, req Request) Result {
	start := time.Now()
	res := e.exec(ctx, req)
	res.Duration = time.Since(start)
	return res
}

func (e *RemoteExecutor) exec(ctx context.Context, req Request) Result {
	if err := req.validate(); err != nil {
		return ErrorResult(err)
	}
	target := e.execURL(req)

	// Discard unless output is recorded.
	var stdout, stderr io.Writer
	stdout, stderr = io.Discard, io.Discard
	var stdoutTail, stderrTail *tailWriter
	if req.RecordOutput {
		stdoutTail, stderrTail = newTailWriter(), newTailWriter()
		stdout, stderr = stdoutTail, stderrTail
	}

	execCtx, cancel := context.WithTimeoutCause(ctx, req.Timeout, errTimedOut)
	defer cancel()
	// Stdout and Stderr must both be set: the URL asks for both streams, and a server waits for every
	// stream it was promised before it starts the command.
	wsHandshake := &handshake{}
	err := e.ws.stream(execCtx, target.String(), wsHandshake, stdout, stderr)
	seen := wsHandshake.observed()
	if err != nil && fallBackToSPDY(err, seen) {
		// As client-go's FallbackExecutor (and kubectl exec): the server or a proxy refused the
		// WebSocket upgrade before any stream opened, so nothing ran; try SPDY. Built only now: its
		// round tripper parses the client's certificates again, which every exec would pay for.
		var spdy remotecommand.Executor
		if spdy, err = remotecommand.NewSPDYExecutor(e.config, http.MethodPost, target); err != nil {
			return ErrorResult(e.wrap(req, fmt.Errorf("spdy executor: %w", err)))
		}
		spdyHandshake := &handshake{}
		err = spdy.StreamWithContext(withHandshake(execCtx, spdyHandshake), remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr})
		seen = spdyHandshake.observed()
	}

	res := e.classify(ctx, execCtx, req, err, seen)
	if req.RecordOutput {
		res.Stdout, res.Stderr = stdoutTail.String(), stderrTail.String()
	}
	return res
}

// fallBackToSPDY says whether a failed WebSocket exec should be tried again over SPDY: only when the
// WebSocket protocol itself was refused before any stream opened (an API server before 1.30, a proxy
// that does not pass WebSockets). A server that is busy or unwell (429, 503, a reset connection) would
// say the same to SPDY, and switching protocols on it would only double the load it is refusing.
func fallBackToSPDY(err error, seen observation) bool {
	if !httpstream.IsUpgradeFailure(err) && !httpstream.IsHTTPSProxyError(err) {
		return false
	}
	return !overloaded(seen.status)
}

// classify turns StreamWithContext's error into a Result. An exit code wins over a timeout that
// fired while it was being delivered; a timeout wins over the error the torn-down stream produced;
// an exec that never got its protocol upgrade is a refusal (the command did not start).
func (e *RemoteExecutor) classify(ctx, execCtx context.Context, req Request, err error, seen observation) Result {
	if err == nil {
		return Result{}
	}
	if code, ok := exitCode(err); ok {
		return ExitResult(code)
	}
	if ctx.Err() == nil && errors.Is(context.Cause(execCtx), errTimedOut) {
		return TimeoutResult(req.Timeout)
	}
	if ctx.Err() != nil {
		// The caller gave up (shutdown, lost leadership): say so rather than the stream's error.
		return ErrorResult(e.wrap(req, fmt.Errorf("%w (stream ended with: %v)", context.Cause(ctx), err)))
	}
	if r := refusal(seen, time.Now()); r != nil {
		return RefusedResult(*r, e.wrap(req, err))
	}
	return ErrorResult(e.wrap(req, err))
}

func (e *RemoteExecutor) wrap(req Request, err error) error {
	return fmt.Errorf("exec in %s/%s container %q: %w", req.Namespace, req.Pod, req.Container, err)
}

// execURL is the pods/exec URL of req: stdout and stderr, no stdin, no TTY, argv verbatim.
func (e *RemoteExecutor) execURL(req Request) *url.URL {
	return e.pods.Post().
		Namespace(req.Namespace).
		Resource("pods").
		Name(req.Pod).
		SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: req.Container,
			Command:   req.Command,
			Stdin:     false,
			Stdout:    true,
			Stderr:    true,
			TTY:       false,
		}, e.paramCodec).
		URL()
}
