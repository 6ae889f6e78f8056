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

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on every Linux this runs on).
const clockTicks = 100

// cpuSnapshot is the CPU time (user + system, seconds) used so far by each process of the benchmark,
// by name: the API server, etcd, kwok (with the commands it ran for pods/exec, once reaped), the
// manager, and the benchmark itself (the floor's exec client).
type cpuSnapshot map[string]float64

// takeCPU reads the CPU times of this process and of its children.
func takeCPU() cpuSnapshot {
	s := cpuSnapshot{}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s["bench"] = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17)
		open, closing := strings.IndexByte(string(data), '('), strings.LastIndexByte(string(data), ')')
		if open < 0 || closing < open {
			continue
		}
		comm := string(data[open+1 : closing])
		f := strings.Fields(string(data[closing+1:]))
		if len(f) < 15 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != self {
			continue
		}
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
		name := comm
		switch {
		case strings.HasPrefix(comm, "kwok"):
			name = "kwok"
		case comm == "kube-apiserver", comm == "etcd", comm == "manager":
		default:
			continue
		}
		s[name] += float64(ticks) / clockTicks
	}
	return s
}

// since returns the CPU used between earlier and s.
func (s cpuSnapshot) since(earlier cpuSnapshot) cpuSnapshot {
	d := cpuSnapshot{}
	for k, v := range s {
		d[k] = v - earlier[k]
	}
	return d
}

func (s cpuSnapshot) total() float64 {
	var t float64
	for _, v := range s {
		t += v
	}
	return t
}

// String renders "total s (apiserver a, etcd e, ...)", largest first.
func (s cpuSnapshot) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return s[keys[i]] > s[keys[j]] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, s[k]))
	}
	return fmt.Sprintf("%.1f CPU-s (%s)", s.total(), strings.Join(parts, ", "))
}
