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

package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// ObjectStore is an S3-compatible object store in this process, in memory (gofakes3 with its s3mem
// backend): where Velero's AWS plugin keeps backups in the test bed. It serves path-style requests only
// (bucket in the path, as the BackupStorageLocation's s3ForcePathStyle asks) and checks no signatures.
type ObjectStore struct {
	// URL is the store's endpoint, http://127.0.0.1:PORT.
	URL string
	// Bucket is the bucket created at start.
	Bucket string

	backend *s3mem.Backend
	server  *http.Server
	served  chan error
}

// StartObjectStore serves an empty in-memory object store on a free port of 127.0.0.1 with bucket
// created. Stop ends it; everything stored is lost.
func StartObjectStore(bucket string) (*ObjectStore, error) {
	if bucket == "" {
		return nil, fmt.Errorf("object store: empty bucket name")
	}
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return nil, fmt.Errorf("object store: creating bucket %q: %w", bucket, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("object store: listening on 127.0.0.1: %w", err)
	}
	s := &ObjectStore{
		URL: "http://" + ln.Addr().String(), Bucket: bucket, backend: backend,
		server: &http.Server{Handler: gofakes3.New(backend).Server(), ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
	}
	go func() { s.served <- s.server.Serve(ln) }()
	return s, nil
}

// Objects returns the keys stored in the bucket under prefix (e.g. "backups/NAME/").
func (s *ObjectStore) Objects(prefix string) ([]string, error) {
	list, err := s.backend.ListBucket(s.Bucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: prefix != ""}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, fmt.Errorf("object store: listing %s/%s: %w", s.Bucket, prefix, err)
	}
	keys := make([]string, 0, len(list.Contents))
	for _, o := range list.Contents {
		keys = append(keys, o.Key)
	}
	return keys, nil
}

// Stop closes the server, waiting up to 5s for requests in flight. Safe to call more than once.
func (s *ObjectStore) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("object store: stopping: %w", err)
	}
	return nil
}
