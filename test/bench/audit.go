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
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark reads.
type auditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
	StageTimestamp           time.Time `json:"stageTimestamp"`
}

// auditCounts are one user's requests in a time window, from the API server's audit log.
type auditCounts struct {
	// PodLists are LIST requests for pods.
	PodLists int `json:"pod_lists"`
	// PodWatches are WATCH requests for pods opened.
	PodWatches int `json:"pod_watches"`
	// PodWatchesHeld are the user's pod watches open at the window's end (opened at any time before).
	PodWatchesHeld int `json:"pod_watches_held"`
	// Watches are WATCH requests of any resource opened; WatchesHeld those open at the window's end.
	Watches     int `json:"watches"`
	WatchesHeld int `json:"watches_held"`
	// Requests counts every request by "verb resource[/subresource]" (pods/exec is not logged).
	Requests map[string]int `json:"requests"`
}

// countAudit counts user's requests received in [from, to] (and the watches held at to).
func countAudit(path, user string, from, to time.Time) (auditCounts, error) {
	c := auditCounts{Requests: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("reading the audit log: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return c, fmt.Errorf("parsing the audit log: %w", err)
		}
		if e.User.Username != user || e.ObjectRef == nil {
			continue
		}
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		pods := res == "pods"
		received := !e.RequestReceivedTimestamp.Before(from) && !e.RequestReceivedTimestamp.After(to)
		switch {
		case e.Verb == "watch" && e.Stage == "ResponseStarted":
			if !e.RequestReceivedTimestamp.After(to) {
				c.WatchesHeld++
				if pods {
					c.PodWatchesHeld++
				}
			}
			if received {
				c.Watches++
				c.Requests["watch "+res]++
				if pods {
					c.PodWatches++
				}
			}
		case e.Verb == "watch" && e.Stage == "ResponseComplete":
			if !e.StageTimestamp.After(to) {
				c.WatchesHeld--
				if pods {
					c.PodWatchesHeld--
				}
			}
		case e.Stage == "ResponseComplete" && received:
			c.Requests[e.Verb+" "+res]++
			if pods && e.Verb == "list" {
				c.PodLists++
			}
		}
	}
	return c, sc.Err()
}

// summary renders the request counts as "n verb resource, ...", largest first.
func (c auditCounts) summary() string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range c.Requests {
		all = append(all, kv{k, v})
	}
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && (all[j].v > all[j-1].v || all[j].v == all[j-1].v && all[j].k < all[j-1].k); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	parts := make([]string, 0, len(all))
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%d %s", e.v, e.k))
	}
	return strings.Join(parts, ", ")
}
