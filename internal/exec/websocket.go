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

package exec

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	streamremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"
	clienttransport "k8s.io/client-go/transport"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// The exec's streams over WebSocket (protocol v5.channel.k8s.io): every binary message starts with the
// number of the stream it belongs to.
const (
	wsStdout byte = 1
	wsStderr byte = 2
	wsError  byte = 3
)

// Heartbeat, as client-go's: a ping every wsPingPeriod keeps an exec that prints nothing for minutes
// alive through proxies that close idle connections, and a connection that answered no ping for
// wsReadDeadline is dead.
const (
	wsPingPeriod   = 5 * time.Second
	wsReadDeadline = 12*wsPingPeriod + time.Second
)

// maxErrorStream bounds what is kept of the error stream, against a broken server only: a Status is
// usually a few hundred bytes, but one for a command the runtime could not start quotes its whole argv,
// and an argv may be as large as a run's spec (an etcd object, 1.5 MiB) with every '<' escaped six-fold.
const maxErrorStream = 16 << 20

// webSocketStreams runs execs over WebSocket, in place of client-go's WebSocket executor (whose
// wire behaviour it keeps: the same protocol, handshake, heartbeat and error-stream decoding, so the
// same outcomes). It exists for what a thousand execs a minute cost with client-go's: a new TLS
// configuration per exec (its client certificate and CA parsed again), a 32 KiB read buffer, 33 KiB
// connection buffers and six goroutines with pipes between them per exec, and a heartbeat goroutine
// that keeps each finished exec's connection in memory for up to 5 s after it ended. Here an exec is
// one goroutine reading one connection into the output writers, plus a ticker goroutine for the
// heartbeat that ends with the exec; the TLS configuration is built once and its sessions shared.
type webSocketStreams struct {
	// rt is the round tripper chain of the rest.Config (authentication, impersonation, user agent,
	// WrapTransport) around a webSocketDialer: a round trip opens the connection and leaves it in the
	// request's handshake.
	rt http.RoundTripper
}

func newWebSocketStreams(config *rest.Config, sessions tls.ClientSessionCache) (*webSocketStreams, error) {
	transportCfg, err := config.TransportConfig()
	if err != nil {
		return nil, err
	}
	proxy := config.Proxy
	if proxy == nil {
		proxy = utilnet.NewProxierWithNoProxyCIDR(http.ProxyFromEnvironment)
	}
	d := &webSocketDialer{proxy: proxy, sessions: sessions, transportCfg: transportCfg}
	// Certificates from files may be rotated on disk: read them for every connection, as client-go
	// does. Certificates given as data (or none) cannot change: one TLS configuration serves all.
	d.reloadTLS = transportCfg.TLS.CertFile != "" || transportCfg.TLS.KeyFile != ""
	if !d.reloadTLS {
		if d.tls, err = d.tlsConfig(); err != nil {
			return nil, err
		}
	}
	rt, err := clienttransport.HTTPWrappersForConfig(transportCfg, d)
	if err != nil {
		return nil, err
	}
	return &webSocketStreams{rt: rt}, nil
}

// stream runs the exec at target: it opens the connection (recording the handshake in h) and copies the
// command's stdout and stderr to the writers until the server closes the connection. It returns nil
// when the command exited 0, a utilexec.CodeExitError with its exit code, or the error that ended it.
func (s *webSocketStreams) stream(ctx context.Context, target string, h *handshake, stdout, stderr io.Writer) error {
	req, err := http.NewRequestWithContext(withHandshake(ctx, h), http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header[wsstream.WebSocketProtocolHeader] = []string{streamremotecommand.StreamProtocolV5Name}
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	conn := h.connection()
	if conn == nil {
		return errors.New("websocket: no connection after the upgrade")
	}
	defer func() { _ = conn.Close() }()
	// Cancelling ctx (the exec's timeout, shutdown) closes the connection, which ends the read below.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	done := make(chan struct{})
	defer close(done)
	if err := conn.SetReadDeadline(time.Now().Add(wsReadDeadline)); err != nil {
		return err
	}
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsReadDeadline)) })
	go heartbeat(conn, done)

	var errStream bytes.Buffer
	readErr := readStreams(conn, stdout, stderr, &errStream)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if readErr != nil {
		// As client-go: whatever the error stream held, a connection that did not close normally ends
		// the exec with the read error.
		return fmt.Errorf("error reading from error stream: %w", readErr)
	}
	if errStream.Len() == 0 {
		return nil
	}
	return decodeErrorStream(errStream.Bytes())
}

// readStreams reads the connection's messages into stdout, stderr and the error stream until the
// server closes it: nil for a normal closure, else the error that ended the reading.
func readStreams(conn *gwebsocket.Conn, stdout, stderr io.Writer, errStream *bytes.Buffer) error {
	var id [1]byte
	for {
		typ, r, err := conn.NextReader()
		if err != nil {
			var closeErr *gwebsocket.CloseError
			if errors.As(err, &closeErr) && closeErr.Code == gwebsocket.CloseNormalClosure {
				return nil
			}
			return fmt.Errorf("next reader: %w", err)
		}
		if typ != gwebsocket.BinaryMessage {
			return fmt.Errorf("unexpected message type: %d", typ)
		}
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return fmt.Errorf("read stream id: %w", err)
		}
		var w io.Writer
		switch id[0] {
		case wsStdout:
			w = stdout
		case wsStderr:
			w = stderr
		case wsError:
			w = &limitedBuffer{buf: errStream, max: maxErrorStream}
		default:
			w = io.Discard // as client-go: a stream it did not ask for is dropped
		}
		if _, err := io.Copy(w, r); err != nil {
			return fmt.Errorf("read message: %w", err)
		}
	}
}

// heartbeat pings every wsPingPeriod until done is closed; a pong pushes the read deadline out.
func heartbeat(conn *gwebsocket.Conn, done <-chan struct{}) {
	t := time.NewTicker(wsPingPeriod)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			// WriteControl may be called concurrently with the reader. A failed ping is left to the
			// read deadline, as client-go does.
			_ = conn.WriteControl(gwebsocket.PingMessage, nil, time.Now().Add(wsReadDeadline))
		}
	}
}

// limitedBuffer keeps the first max bytes written to it and discards the rest.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// decodeErrorStream turns the error stream's Status into the exec's outcome, as client-go's v4+
// decoder does: Success is nil, a NonZeroExitCode failure a CodeExitError, any other failure its message.
func decodeErrorStream(message []byte) error {
	status := metav1.Status{}
	if err := json.Unmarshal(message, &status); err != nil {
		return fmt.Errorf("error stream protocol error: %v in %q", err, string(message))
	}
	switch status.Status {
	case metav1.StatusSuccess:
		return nil
	case metav1.StatusFailure:
		if status.Reason == streamremotecommand.NonZeroExitCodeReason {
			if status.Details == nil {
				return errors.New("error stream protocol error: details must be set")
			}
			for _, c := range status.Details.Causes {
				if c.Type != streamremotecommand.ExitCodeCauseType {
					continue
				}
				rc, err := strconv.ParseUint(c.Message, 10, 8)
				if err != nil {
					return fmt.Errorf("error stream protocol error: invalid exit code value %q", c.Message)
				}
				return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", rc), Code: int(rc)}
			}
			return fmt.Errorf("error stream protocol error: no %s cause given", streamremotecommand.ExitCodeCauseType)
		}
	default:
		return errors.New("error stream protocol error: unknown error")
	}
	return errors.New(status.Message)
}

// webSocketDialer is the innermost round tripper of webSocketStreams: it opens the WebSocket
// connection of an exec as client-go's websocket.RoundTripper does (v0.36: the same dialer settings
// but the buffers, the same errors), records the handshake in the request's context, which client-go
// would not (its round tripper discards a refused response, whose Retry-After header says when to send
// again), and leaves the connection there.
type webSocketDialer struct {
	proxy        func(*http.Request) (*url.URL, error)
	sessions     tls.ClientSessionCache
	transportCfg *clienttransport.Config
	reloadTLS    bool
	tls          *tls.Config // when !reloadTLS
}

// tlsConfig builds the TLS configuration of the exec connections; all of them share TLS sessions, so
// all but the first resume one (TLS 1.3 PSK) and skip the certificate signatures and verifications of a
// full handshake, on both sides.
func (d *webSocketDialer) tlsConfig() (*tls.Config, error) {
	cfg, err := clienttransport.TLSConfigFor(d.transportCfg)
	if err != nil || cfg == nil {
		return cfg, err
	}
	cfg.ClientSessionCache = d.sessions
	return cfg, nil
}

func (d *webSocketDialer) RoundTrip(req *http.Request) (*http.Response, error) {
	h := handshakeFrom(req.Context())
	if h == nil {
		return nil, errors.New("websocket: a pods/exec request without a handshake to record")
	}
	if req.Body != nil {
		_ = req.Body.Close() // an upgrade request carries none; client-go closes it too
	}
	tlsConfig := d.tls
	if d.reloadTLS {
		var err error
		if tlsConfig, err = d.tlsConfig(); err != nil {
			return nil, err
		}
	}
	protocols := req.Header[wsstream.WebSocketProtocolHeader]
	header := req.Header.Clone()
	delete(header, wsstream.WebSocketProtocolHeader)
	dialer := gwebsocket.Dialer{
		Proxy:           d.proxy,
		TLSClientConfig: tlsConfig,
		Subprotocols:    protocols,
		// Not client-go's 33 KiB for each, per connection. The read buffer is a bufio.Reader beneath the
		// frame reader: any size reads every message, a large one in more than one read, and a hook's
		// output is small. The write buffer is held only while a data message is written (this client
		// writes none: no stdin, and control frames bypass it), so it comes from a pool.
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: &writeBuffers,
	}
	target := *req.URL
	switch target.Scheme {
	case "https":
		target.Scheme = "wss"
	case "http":
		target.Scheme = "ws"
	default:
		return nil, fmt.Errorf("unknown url scheme: %s", target.Scheme)
	}
	conn, resp, err := dialer.DialContext(req.Context(), target.String(), header)
	if err != nil {
		if resp == nil {
			h.failed(err)
			return nil, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
		_ = resp.Body.Close()
		h.answered(resp.StatusCode, resp.Header, body)
		if !errors.Is(err, gwebsocket.ErrBadHandshake) {
			return nil, err
		}
		// As client-go: a refused handshake is an UpgradeFailureError (what the SPDY fallback looks for),
		// caused by the API server's Status when the body is one.
		cause := fmt.Errorf("%w (%s)", err, resp.Status)
		if status, ok := decodeStatus(body); ok {
			return nil, &httpstream.UpgradeFailureError{Cause: &apierrors.StatusError{ErrStatus: status}}
		}
		if text := strings.TrimSpace(string(body)); text != "" {
			cause = fmt.Errorf("%w: %s", cause, text)
		}
		return nil, &httpstream.UpgradeFailureError{Cause: cause}
	}
	h.switched()
	if !slices.Contains(protocols, conn.Subprotocol()) {
		_ = conn.Close()
		return nil, &httpstream.UpgradeFailureError{Cause: fmt.Errorf("invalid protocol, expected one of %q, got %q", protocols, conn.Subprotocol())}
	}
	h.setConnection(conn)
	return resp, nil
}

// The connections' buffers (see webSocketDialer.RoundTrip): client-go sizes the write buffer for 32 KiB
// of data plus room for the stream byte.
const (
	readBufferSize  = 4 << 10
	writeBufferSize = 32<<10 + 1024
)

// writeBuffers are the WebSocket connections' write buffers, shared: a connection takes one only while
// it writes a data message.
var writeBuffers sync.Pool
