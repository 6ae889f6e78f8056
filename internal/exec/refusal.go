package exec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Refusal says that an exec failed before its command could start: the request never got the
// protocol upgrade that must precede every command, so nothing ran in the container and sending the
// same request again cannot run the command twice.
//
// An exec is refused when the connection could not be made (dial error, TLS handshake failure), when
// it was reset or closed before any response, or when the API server (or a proxy, or an admission
// webhook) answered with an HTTP status instead of switching protocols. Anything after the upgrade (a
// stream cut, a read error, a timeout while the command runs) may have started the command and is
// never a Refusal.
type Refusal struct {
	// Cause is a short name for the refusal, for messages: the HTTP status code ("429", "503") or the
	// transport failure ("dial error", "TLS handshake", "connection reset", "connection closed before a
	// response").
	Cause string
	// StatusCode is the HTTP status answered instead of the upgrade; 0 for a transport failure.
	StatusCode int
	// RetryAfter is the delay the server asked for (a Retry-After header, or a Status's
	// details.retryAfterSeconds); 0 when it named none.
	RetryAfter time.Duration
	// Transient says the same request may well succeed later: transport failures, 401 and 403 (a
	// credential being rotated, an admission webhook that denies for now), 408, 429 and server errors
	// other than 501 and 505. Other statuses (400, 404, …) would be answered the same way again.
	Transient bool
}

// String renders the refusal for logs.
func (r Refusal) String() string {
	s := "refused before start (" + r.Cause + ")"
	if r.RetryAfter > 0 {
		s += ", retry after " + r.RetryAfter.String()
	}
	return s
}

// handshake is what the transport saw of one exec's protocol upgrade. The round trippers that
// NewRemoteExecutor installs fill it in; client-go's errors alone do not say it (the SPDY path
// flattens transport errors and drops the HTTP status, the WebSocket path drops the response headers).
type handshake struct {
	mu sync.Mutex
	// upgraded: the server switched protocols; from then on the command may run.
	upgraded bool
	// status and header are those of a response that was not an upgrade; status 0 when none came.
	status int
	header http.Header
	// body is the start of that response's body (a metav1.Status from the API server, or text).
	body []byte
	// err is the error of a round trip that got no response at all.
	err error
	// conn is the WebSocket connection once upgraded (webSocketDialer leaves it here).
	conn *gwebsocket.Conn
}

func (h *handshake) setConnection(c *gwebsocket.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conn = c
}

func (h *handshake) connection() *gwebsocket.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conn
}

func (h *handshake) switched() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.upgraded = true
}

func (h *handshake) answered(status int, header http.Header, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if status == http.StatusSwitchingProtocols {
		// A 101 the client then rejected (wrong headers, a protocol it did not ask for): the server
		// may have started the command, so this exec counts as upgraded.
		h.upgraded = true
		return
	}
	h.status, h.header, h.body = status, header.Clone(), body
}

func (h *handshake) failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status == 0 && !h.upgraded {
		h.err = err
	}
}

// observation is a copy of what the handshake saw, for the pure rules below.
type observation struct {
	upgraded bool
	status   int
	header   http.Header
	body     []byte
	err      error
}

func (h *handshake) observed() observation {
	if h == nil {
		return observation{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return observation{upgraded: h.upgraded, status: h.status, header: h.header, body: h.body, err: h.err}
}

// refusal decides whether the exec observed by o was refused before its command could start; nil
// when it may have started, or when the transport saw nothing at all (the request was never made, so
// the failure is the client's own, e.g. a bad configuration, and sending again would not help).
func refusal(o observation, now time.Time) *Refusal {
	switch {
	case o.upgraded:
		return nil
	case o.status != 0:
		return &Refusal{
			Cause:      strconv.Itoa(o.status),
			StatusCode: o.status,
			RetryAfter: retryAfter(o.header, o.body, now),
			Transient:  transientStatus(o.status),
		}
	case o.err != nil:
		return &Refusal{Cause: transportCause(o.err), Transient: true}
	}
	return nil
}

// transientStatus says whether a status answered instead of an upgrade may be different next time.
func transientStatus(code int) bool {
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		// A token about to be reloaded; a webhook or authorizer that refuses while it restarts.
		return true
	case overloaded(code):
		return true
	}
	return false
}

// overloaded says a status is the server (or a proxy) being busy or unwell, not an answer about the
// request: it says nothing about the WebSocket protocol, so it must not switch the exec to SPDY.
func overloaded(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		// "This server does not do that": the answer a server or proxy without WebSocket support gives.
		return false
	}
	return code >= 500 && code <= 599
}

// transportCause names a failure that got no response, for the record's message.
func transportCause(err error) string {
	var (
		certErr    *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		opErr      *net.OpError
		netErr     net.Error
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &recordErr), errors.As(err, &alertErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return "TLS handshake"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "dial error"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.EPIPE):
		return "connection closed before a response"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "network timeout"
	}
	return "transport error"
}

// maxRetryAfter bounds the delay a server may ask for; the caller's own deadline bounds it further.
const maxRetryAfter = 10 * time.Minute

// retryAfter reads the delay a refusal asks for: the Retry-After header (seconds or an HTTP date, as
// kube-apiserver's priority and fairness filter sends it), else a metav1.Status body's
// details.retryAfterSeconds. 0 when neither names one.
func retryAfter(header http.Header, body []byte, now time.Time) time.Duration {
	var d time.Duration
	if v := header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			d = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = max(t.Sub(now), 0)
		}
	}
	if d == 0 && len(body) > 0 {
		if status, ok := decodeStatus(body); ok {
			if secs, ok := apierrors.SuggestsClientDelay(&apierrors.StatusError{ErrStatus: status}); ok && secs > 0 {
				d = time.Duration(secs) * time.Second
			}
		}
	}
	return min(d, maxRetryAfter)
}

// refusedError is the error of a refused exec: the refusal, then what client-go reported.
type refusedError struct {
	refusal Refusal
	err     error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s: %v", e.refusal, e.err)
}

func (e *refusedError) Unwrap() error { return e.err }
