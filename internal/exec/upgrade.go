package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
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

// observeUpgrades is the rest.Config.WrapTransport of a RemoteExecutor's SPDY executors: client-go
// hands it the upgrading round tripper before its authentication wrappers, which is the supported place
// to adjust a transport. It records, in the request's handshake, how the upgrade went, so that a failure
// can be classified by whether the command can have started. Requests without a handshake in their
// context pass through untouched.
func observeUpgrades(wrap func(http.RoundTripper) http.RoundTripper) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		return &upgradeObserver{rt: rt}
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

// decodeStatus reads a metav1.Status from a response body, as client-go does for refused upgrades.
func decodeStatus(body []byte) (metav1.Status, bool) {
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" {
		return metav1.Status{}, false
	}
	return status, true
}
