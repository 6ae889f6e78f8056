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

package operator

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeReviews is the API server's side of the metrics filter: tokens it knows, users it lets GET /metrics.
type fakeReviews struct {
	users          map[string]string // token -> user
	readers        map[string]bool   // users bound to metrics-reader
	tokenReviews   int
	accessReviews  int
	lastAccessSpec authorizationv1.SubjectAccessReviewSpec
	fail           error
}

func (f *fakeReviews) token(_ context.Context, r *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	f.tokenReviews++
	if f.fail != nil {
		return nil, f.fail
	}
	if r.Spec.Token == "expired" {
		r.Status = authenticationv1.TokenReviewStatus{Error: "token has expired"}
		return r, nil
	}
	if u, ok := f.users[r.Spec.Token]; ok {
		r.Status = authenticationv1.TokenReviewStatus{Authenticated: true,
			User: authenticationv1.UserInfo{Username: u, UID: "uid-" + u, Groups: []string{"system:authenticated"}}}
	}
	return r, nil
}

func (f *fakeReviews) access(_ context.Context, r *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	f.accessReviews++
	f.lastAccessSpec = r.Spec
	na := r.Spec.NonResourceAttributes
	r.Status.Allowed = f.readers[r.Spec.User] && na != nil && na.Path == "/metrics" && na.Verb == "get"
	if !r.Status.Allowed {
		r.Status.Reason = "no RBAC policy matched"
	}
	return r, nil
}

func TestMetricsAuthFilter(t *testing.T) {
	f := &fakeReviews{users: map[string]string{"good": "prometheus", "other": "someone"}, readers: map[string]bool{"prometheus": true}}
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	m := newMetricsAuth(f.token, f.access, clock)
	h, err := m.filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
	if err != nil {
		t.Fatal(err)
	}
	get := func(auth string) int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	// In order: the last one checked is the reader, whose SubjectAccessReview is looked at below.
	for _, tc := range []struct {
		name string
		auth string
		want int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not a bearer token", "Basic Zm9vOmJhcg==", http.StatusUnauthorized},
		{"unknown token", "Bearer nope", http.StatusUnauthorized},
		{"token the API refuses", "Bearer expired", http.StatusUnauthorized},
		{"known, not a reader", "Bearer other", http.StatusForbidden},
		{"known, bound as read", "Bearer good", http.StatusOK},
	} {
		if got := get(tc.auth); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if s := f.lastAccessSpec; s.User != "prometheus" || s.UID != "uid-prometheus" || len(s.Groups) != 1 {
		t.Errorf("SubjectAccessReview asked for %+v, want the reviewed user with its UID and groups", s)
	}

	// Decisions are cached: another scrape costs the API server nothing ...
	tokens, access := f.tokenReviews, f.accessReviews
	if got := get("Bearer good"); got != http.StatusOK || f.tokenReviews != tokens || f.accessReviews != access {
		t.Errorf("second scrape: status %d, %d token and %d access reviews more; want 200 from the cache",
			got, f.tokenReviews-tokens, f.accessReviews-access)
	}
	// ... until they expire: a revoked binding is seen within the allow TTL.
	f.readers["prometheus"] = false
	clock.SetTime(clock.Now().Add(allowCacheTTL + time.Second))
	if got := get("Bearer good"); got != http.StatusForbidden {
		t.Errorf("after the binding was removed and the cache expired: status %d, want 403", got)
	}

	// The API server failing is a 500, and is not cached.
	f.fail = errors.New("connection refused")
	if got := get("Bearer fresh"); got != http.StatusInternalServerError {
		t.Errorf("TokenReview failing: status %d, want 500", got)
	}
	f.fail = nil
	f.users["fresh"] = "prometheus"
	f.readers["prometheus"] = true
	clock.SetTime(clock.Now().Add(denyCacheTTL + time.Second))
	if got := get("Bearer fresh"); got != http.StatusOK {
		t.Errorf("after the API server recovered: status %d, want 200", got)
	}
}

func TestStoreBoundedNeverGrowsPastTheBound(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cache := map[int]time.Time{}
	for i := range 3 * maxCacheEntries {
		storeBounded(cache, i, now.Add(time.Minute), now, func(t time.Time) time.Time { return t })
		if len(cache) > maxCacheEntries {
			t.Fatalf("%d entries after %d stores, want at most %d", len(cache), i+1, maxCacheEntries)
		}
	}
}
