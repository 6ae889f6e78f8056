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
	"runtime"
	"strings"
	"testing"
	"time"
)

// Over WebSocket nothing of an exec outlives it: client-go's executor left a heartbeat goroutine, and
// with it the connection and its buffers, for up to 5 s after every exec, which at a hundred execs a
// second held hundreds of connections in memory.
func TestWebSocketExecLeavesNothingRunning(t *testing.T) {
	for _, tr := range []transport{transports[0], transports[2]} {
		t.Run(tr.name, func(t *testing.T) {
			cluster := newFakeCluster(t, tr)
			e := cluster.executor(t)
			if res := e.Exec(context.Background(), remoteRequest("echo", "warm", "")); !res.Succeeded() {
				t.Fatalf("warm-up: %+v", res)
			}
			before := settledGoroutines()
			for i := range 10 {
				if res := e.Exec(context.Background(), remoteRequest("echo", "hi", "")); res.Stdout != "hi" {
					t.Fatalf("exec %d: %+v", i, res)
				}
				if res := e.Exec(context.Background(), remoteRequest("exit", "2")); res.ExitCode != 2 {
					t.Fatalf("exit %d: %+v", i, res)
				}
			}
			req := remoteRequest("sleep")
			req.Timeout = 100 * time.Millisecond
			if res := e.Exec(context.Background(), req); !res.TimedOut {
				t.Fatalf("got %+v, want a timeout", res)
			}
			cluster.containerRuntime.releaseSleepers()
			// Well inside the 5 s ping period: only the server's side of the connections is left to end.
			deadline := time.Now().Add(2 * time.Second)
			for runtime.NumGoroutine() > before {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("%d goroutines 2s after 21 execs, %d before:\n%s", runtime.NumGoroutine(), before,
						buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestDecodeErrorStream(t *testing.T) {
	tests := map[string]struct {
		message  string
		wantCode int    // 0: no exit code
		wantErr  string // "" for nil
	}{
		"success": {message: `{"status":"Success"}`},
		"exit code": {
			message:  `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`,
			wantCode: 3, wantErr: "command terminated with exit code 3",
		},
		"exit code among other causes": {
			message:  `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"Other","message":"x"},{"reason":"ExitCode","message":"255"}]}}`,
			wantCode: 255, wantErr: "exit code 255",
		},
		"exit code out of range": {
			message: `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"256"}]}}`,
			wantErr: `invalid exit code value "256"`,
		},
		"no exit code cause": {
			message: `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[]}}`,
			wantErr: "no ExitCode cause given",
		},
		"no details": {
			message: `{"status":"Failure","reason":"NonZeroExitCode"}`,
			wantErr: "details must be set",
		},
		"other failure": {
			message: `{"status":"Failure","reason":"InternalError","message":"container not found (\"app\")"}`,
			wantErr: `container not found ("app")`,
		},
		"unknown status": {message: `{"status":"Maybe"}`, wantErr: "unknown error"},
		"not JSON":       {message: `boom`, wantErr: `error stream protocol error: invalid character 'b' looking for beginning of value in "boom"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := decodeErrorStream([]byte(tc.message))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			code, ok := exitCode(err)
			if tc.wantCode == 0 && ok {
				t.Errorf("exit code %d read from %v, want none", code, err)
			}
			if tc.wantCode != 0 && (!ok || code != tc.wantCode) {
				t.Errorf("exit code %d (%t) read from %v, want %d", code, ok, err, tc.wantCode)
			}
		})
	}
}

// The error stream keeps a Status, not whatever a broken server sends.
func TestLimitedBuffer(t *testing.T) {
	var buf bytes.Buffer
	w := &limitedBuffer{buf: &buf, max: 10}
	for _, s := range []string{"0123", "456789ab", "cdef"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want all of it taken", s, n, err)
		}
	}
	if got := buf.String(); got != "0123456789" {
		t.Errorf("kept %q, want the first 10 bytes", got)
	}
}
