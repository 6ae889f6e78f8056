package exec

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Fake is an Executor for tests. It records every request, returns scripted results, and can hold
// calls "in flight" until a test releases them. The zero value is ready to use and succeeds every
// call. Safe for concurrent use.
//
// The result of a call is, in order of precedence: an invalid request's error (as RemoteExecutor);
// TimeoutResult when a blocked call outlives Request.Timeout; an exec error wrapping ctx's error when
// ctx ends while blocked; the next result scripted with SetResults for the request's Key; Handler's
// result; success. Stdout and Stderr are cleared when the request does not record output.
type Fake struct {
	// Handler, if set, decides the result of calls that have no scripted result. Its ctx ends at
	// Request.Timeout (with cause context.DeadlineExceeded); a Handler that waits on it should return
	// TimeoutResult. Set it before the first Exec.
	Handler func(ctx context.Context, req Request) Result

	mu       sync.Mutex
	calls    []Request
	scripted map[string][]Result
	gates    map[string]chan struct{}
}

var _ Executor = (*Fake)(nil)

// SetResults scripts the results of the calls whose Request.Key is key: successive calls get them in
// order, and the last one repeats. No results removes the script.
func (f *Fake) SetResults(key string, results ...Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(results) == 0 {
		delete(f.scripted, key)
		return
	}
	if f.scripted == nil {
		f.scripted = map[string][]Result{}
	}
	f.scripted[key] = append([]Result(nil), results...)
}

// Block holds every call whose Request.Key is key and that starts before release is called, until
// release is called or the call's Timeout or ctx ends. A test that needs a hook "in flight" blocks
// its key, then waits until Calls shows the request. release may be called more than once.
func (f *Fake) Block(key string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gates == nil {
		f.gates = map[string]chan struct{}{}
	}
	gate, ok := f.gates[key]
	if !ok {
		gate = make(chan struct{})
		f.gates[key] = gate
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.gates[key] == gate {
				delete(f.gates, key)
				close(gate)
			}
		})
	}
}

// Calls returns every request received so far, in the order Exec was called.
func (f *Fake) Calls() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := make([]Request, len(f.calls))
	for i, c := range f.calls {
		calls[i] = c.clone()
	}
	return calls
}

// Exec implements Executor.
func (f *Fake) Exec(ctx context.Context, req Request) Result {
	start := time.Now()
	res := f.exec(ctx, req)
	if !req.RecordOutput {
		res.Stdout, res.Stderr = "", ""
	}
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	return res
}

func (f *Fake) exec(ctx context.Context, req Request) Result {
	key := req.Key()
	f.mu.Lock()
	f.calls = append(f.calls, req.clone())
	gate := f.gates[key]
	f.mu.Unlock()

	if err := req.validate(); err != nil {
		return ErrorResult(err)
	}
	execCtx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()

	if gate != nil {
		select {
		case <-gate:
		case <-execCtx.Done():
			if ctx.Err() != nil {
				return ErrorResult(fmt.Errorf("exec in %s/%s container %q: %w", req.Namespace, req.Pod, req.Container, context.Cause(ctx)))
			}
			return TimeoutResult(req.Timeout)
		}
	}

	if res, ok := f.next(key); ok {
		return res
	}
	if f.Handler != nil {
		return f.Handler(execCtx, req)
	}
	return Result{}
}

// next pops the next scripted result for key, keeping the last one.
func (f *Fake) next(key string) (Result, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	results, ok := f.scripted[key]
	if !ok {
		return Result{}, false
	}
	if len(results) > 1 {
		f.scripted[key] = results[1:]
	}
	return results[0], true
}
