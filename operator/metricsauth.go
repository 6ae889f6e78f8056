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
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The metrics endpoint's decisions are kept as long as controller-runtime's filter keeps them: an
// authenticated token for a minute, an allowed request for five, a denied one for thirty seconds.
const (
	tokenCacheTTL   = time.Minute
	allowCacheTTL   = 5 * time.Minute
	denyCacheTTL    = 30 * time.Second
	reviewTimeout   = 10 * time.Second
	maxCacheEntries = 1024
)

// The reviews are the metrics-auth-role's to allow (config/rbac/metrics_auth_role.yaml), as for
// controller-runtime's filter.

// metricsAuthFilter protects the metrics endpoint as controller-runtime's
// filters.WithAuthenticationAndAuthorization does: a request needs a bearer token the API server
// authenticates (a TokenReview) and a user the API server allows to GET the path (a
// SubjectAccessReview, as a non-resource URL: the metrics-reader ClusterRole). Decisions are cached
// as that filter caches them. It replaces that filter because its delegating authenticator and
// authorizer link k8s.io/apiserver, CEL and OpenTelemetry into the manager: 29 MB of a 78 MB binary,
// most of the manager's resident memory before it has cached a single pod.
func metricsAuthFilter(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	cs, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the metrics endpoint's review client: %w", err)
	}
	a := newMetricsAuth(cs.AuthenticationV1().TokenReviews().Create, cs.AuthorizationV1().SubjectAccessReviews().Create, clock.RealClock{})
	return a.filter, nil
}

type (
	tokenReviewFunc  func(context.Context, *authenticationv1.TokenReview, metav1.CreateOptions) (*authenticationv1.TokenReview, error)
	accessReviewFunc func(context.Context, *authorizationv1.SubjectAccessReview, metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error)
)

type metricsAuth struct {
	reviewToken  tokenReviewFunc
	reviewAccess accessReviewFunc
	clock        clock.PassiveClock

	mu     sync.Mutex
	tokens map[[32]byte]cachedUser // by the token's SHA-256
	access map[string]cachedDecision
}

type cachedUser struct {
	user    authenticationv1.UserInfo
	ok      bool
	expires time.Time
}

type cachedDecision struct {
	allowed bool
	reason  string
	expires time.Time
}

func newMetricsAuth(t tokenReviewFunc, a accessReviewFunc, c clock.PassiveClock) *metricsAuth {
	return &metricsAuth{reviewToken: t, reviewAccess: a, clock: c,
		tokens: map[[32]byte]cachedUser{}, access: map[string]cachedDecision{}}
}

func (m *metricsAuth) filter(log logr.Logger, next http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		token, found := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		token = strings.TrimSpace(token)
		if !found || token == "" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		user, ok, err := m.authenticate(req.Context(), token)
		if err != nil {
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if !ok {
			log.V(4).Info("Authentication failed")
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		verb := strings.ToLower(req.Method)
		allowed, reason, err := m.authorize(req.Context(), user, verb, req.URL.Path)
		if err != nil {
			msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
			log.Error(err, msg)
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		if !allowed {
			msg := fmt.Sprintf("Authorization denied for user %s", user.Username)
			log.V(4).Info(msg, "reason", reason)
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, req)
	}), nil
}

func (m *metricsAuth) authenticate(ctx context.Context, token string) (authenticationv1.UserInfo, bool, error) {
	key := sha256.Sum256([]byte(token))
	now := m.clock.Now()
	m.mu.Lock()
	c, hit := m.tokens[key]
	m.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.user, c.ok, nil
	}
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	review, err := m.reviewToken(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, false, fmt.Errorf("reviewing the token (TokenReview): %w", err)
	}
	// Not authenticated is a 401, whether or not the review says why ("invalid bearer token"): the
	// request's credentials are at fault, not the server. (controller-runtime's filter answers 500 then.)
	c = cachedUser{user: review.Status.User, ok: review.Status.Authenticated, expires: now.Add(tokenCacheTTL)}
	m.mu.Lock()
	storeBounded(m.tokens, key, c, now, func(v cachedUser) time.Time { return v.expires })
	m.mu.Unlock()
	return c.user, c.ok, nil
}

func (m *metricsAuth) authorize(ctx context.Context, user authenticationv1.UserInfo, verb, path string) (bool, string, error) {
	key := strings.Join([]string{user.Username, user.UID, strings.Join(user.Groups, ","), verb, path}, "\x00")
	now := m.clock.Now()
	m.mu.Lock()
	c, hit := m.access[key]
	m.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.allowed, c.reason, nil
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	review, err := m.reviewAccess(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("reviewing access (SubjectAccessReview): %w", err)
	}
	c = cachedDecision{allowed: review.Status.Allowed && !review.Status.Denied, reason: review.Status.Reason}
	c.expires = now.Add(denyCacheTTL)
	if c.allowed {
		c.expires = now.Add(allowCacheTTL)
	}
	m.mu.Lock()
	storeBounded(m.access, key, c, now, func(v cachedDecision) time.Time { return v.expires })
	m.mu.Unlock()
	return c.allowed, c.reason, nil
}

// storeBounded stores v under k, first dropping expired entries when the cache is full, and all of
// them if none had expired: a scraper sending ever new tokens cannot grow it without bound.
func storeBounded[K comparable, V any](cache map[K]V, k K, v V, now time.Time, expires func(V) time.Time) {
	if len(cache) >= maxCacheEntries {
		for key, old := range cache {
			if !now.Before(expires(old)) {
				delete(cache, key)
			}
		}
		if len(cache) >= maxCacheEntries {
			clear(cache)
		}
	}
	cache[k] = v
}
