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
	"strings"

	gwebsocket "github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/transport/websocket"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// handshakeKey carries an exec's *handshake in the context of its upgrade request.
type handshakeKey struct{}

func withHandshake(ctx context.Context, h *handshake) context.Context {
	return context.WithValue(ctx, handshakeKey{}, h)
}

func handshakeFrom(ctx context.Context) *handshake {
	h, _ := ctx.Value(handshakeKey{}).(*handshake)
	return h
}

// observeUpgrades is the rest.Config.WrapTransport of a RemoteExecutor: client-go hands it the
// upgrading round tripper of every exec (WebSocket or SPDY) before its authentication wrappers, which
// is the supported place to adjust a transport. It records, in the request's handshake, how the
// upgrade went, so that a failure can be classified by whether the command can have started; and it
// makes the WebSocket connections share TLS sessions (see resumeTLSSessions). Requests without a
// handshake in their context pass through untouched.
func observeUpgrades(wrap func(http.RoundTripper) http.RoundTripper, sessions tls.ClientSessionCache) func(http.RoundTripper) http.RoundTripper {
	resume := resumeTLSSessions(wrap, sessions)
	return func(rt http.RoundTripper) http.RoundTripper {
		rt = resume(rt)
		if ws, ok := rt.(*websocket.RoundTripper); ok {
			return &webSocketUpgrader{rt: ws}
		}
		return &upgradeObserver{rt: rt}
	}
}

// resumeTLSSessions makes the WebSocket connections of pods/exec share sessions, so all but the
// first connections to the API server resume a TLS session instead of a full handshake. client-go
// builds a fresh tls.Config for every WebSocket executor and exposes no setting for a session cache;
// rest.Config.WrapTransport sees the WebSocket round tripper (and its tls.Config) before it dials.
// Other round trippers pass through unchanged.
func resumeTLSSessions(wrap func(http.RoundTripper) http.RoundTripper, sessions tls.ClientSessionCache) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		if ws, ok := rt.(*websocket.RoundTripper); ok && ws.TLSConfig != nil && ws.TLSConfig.ClientSessionCache == nil {
			ws.TLSConfig.ClientSessionCache = sessions
		}
		return rt
	}
}

// upgradeObserver records what an upgrading round tripper (SPDY's) got: a response, with its status
// and headers, or an error without one. client-go's SPDY executor then reduces both to flat strings.
type upgradeObserver struct {
	rt http.RoundTripper
}

func (o *upgradeObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.rt.RoundTrip(req)
	h := handshakeFrom(req.Context())
	switch {
	case h == nil:
	case err != nil:
		var upgradeErr *httpstream.UpgradeFailureError
		if errors.As(err, &upgradeErr) {
			// A WebSocket round tripper wrapped by someone else: it read a response, and says only what
			// its error says.
			var status apierrors.APIStatus
			if errors.As(upgradeErr.Cause, &status) && status.Status().Code != 0 {
				h.answered(int(status.Status().Code), nil, nil)
			} else {
				h.switched() // unknown: count it as upgraded, never as refused
			}
		} else {
			h.failed(err)
		}
	case resp.StatusCode == http.StatusSwitchingProtocols:
		h.switched()
	default:
		// Read the start of the body (a Status may say when to retry) and hand client-go the same bytes,
		// which it reads for its error message.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		h.answered(resp.StatusCode, resp.Header, body)
	}
	return resp, err
}

// WrappedRoundTripper lets client-go find the TLS configuration of the SPDY round tripper beneath.
func (o *upgradeObserver) WrappedRoundTripper() http.RoundTripper { return o.rt }

// webSocketUpgrader opens the WebSocket connection of an exec the way client-go's
// websocket.RoundTripper.RoundTrip (v0.36) does, with the same dialer settings and the same errors,
// and records the handshake: that method discards the refused response, whose Retry-After header says
// when to send again. The connection is handed to client-go through the RoundTripper's Conn field,
// which is where client-go's executor takes it from.
type webSocketUpgrader struct {
	rt *websocket.RoundTripper
}

func (u *webSocketUpgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	h := handshakeFrom(req.Context())
	if h == nil {
		return u.rt.RoundTrip(req)
	}
	if req.Body != nil {
		_ = req.Body.Close() // an upgrade request carries none; client-go closes it too
	}
	protocols := req.Header[wsstream.WebSocketProtocolHeader]
	header := req.Header.Clone()
	delete(header, wsstream.WebSocketProtocolHeader)
	dialer := gwebsocket.Dialer{
		Proxy:           u.rt.Proxier,
		TLSClientConfig: u.rt.TLSConfig,
		Subprotocols:    protocols,
		// Room for the byte that says which stream a message belongs to, as client-go sizes them.
		ReadBufferSize:  u.rt.DataBufferSize() + 1024,
		WriteBufferSize: u.rt.DataBufferSize() + 1024,
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
	if !containsString(protocols, conn.Subprotocol()) {
		_ = conn.Close()
		return nil, &httpstream.UpgradeFailureError{Cause: fmt.Errorf("invalid protocol, expected one of %q, got %q", protocols, conn.Subprotocol())}
	}
	u.rt.Conn = conn
	return resp, nil
}

// WrappedRoundTripper exposes client-go's round tripper, and its TLS configuration, to client-go.
func (u *webSocketUpgrader) WrappedRoundTripper() http.RoundTripper { return u.rt }

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeStatus reads a metav1.Status from a response body, as client-go does for refused upgrades.
func decodeStatus(body []byte) (metav1.Status, bool) {
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" {
		return metav1.Status{}, false
	}
	return status, true
}
