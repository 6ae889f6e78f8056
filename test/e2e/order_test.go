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

package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// SPEC §13 end to end: a database and three application replicas restored together.
var _ = Describe("Ordering across entries and single-pod hooks", func() {
	It("runs the app's hooks strictly after the database's, and the migration once across the replicas", func() {
		ns, restore, dir := newNamespace(), newRestore(), hookDir()
		order := filepath.Join(dir, "order")
		step := func(what string) string {
			// Each hook writes when it begins and when it ends, so "strictly after" can be read back.
			return fmt.Sprintf("echo begin-%s >> %s; sleep 0.3; echo end-%s >> %s", what, order, what, order)
		}

		db := hookSpec("db-ready", map[string]string{"app": "db"}, shellHook("db", step("db-ready")), shellHook("db", step("db-load")))
		migrate := hookSpec("migrate", map[string]string{"app": "api"}, shellHook("api", step("migrate")))
		migrate.SinglePod = true
		migrate.DependsOn = []string{"db-ready"}
		warm := hookSpec("warm", map[string]string{"app": "api"}, shellHook("api", step("warm")))
		warm.DependsOn = []string{"migrate"}

		for i := range 3 {
			runningPod(restoredPod(ns, fmt.Sprintf("api-%d", i), restore, map[string]string{"app": "api"}, nil, "api"))
		}
		runningPod(restoredPod(ns, "db-0", restore, map[string]string{"app": "db"}, nil, "db"))
		run := newRun(ns, restore, warm, db, migrate) // declaration order does not decide: dependsOn does

		// While the Restore can still create pods, only the database's hooks run.
		Eventually(fileLines(order)).Should(HaveLen(4))
		Consistently(records(run), "2s").Should(ContainElement(HavePrefix("api-0/api:0=Waiting")))
		completeRestore(restore)

		Eventually(runPhase(run), "60s").Should(Equal(v1alpha1.RunPhaseCompleted))
		got := lines(order)
		Expect(got).To(HaveLen(4 + 2 + 3*2))
		Expect(got[:4]).To(Equal([]string{"begin-db-ready", "end-db-ready", "begin-db-load", "end-db-load"}))
		var migrations []string
		for _, l := range got {
			if strings.HasPrefix(l, "begin-migrate") {
				migrations = append(migrations, l)
			}
		}
		Expect(migrations).To(HaveLen(1), "the migration ran once across the three replicas: %v", got)
		lastMigrate := slices.IndexFunc(got, func(l string) bool { return strings.HasPrefix(l, "end-migrate") })
		firstWarm := slices.IndexFunc(got, func(l string) bool { return strings.HasPrefix(l, "begin-warm") })
		Expect(firstWarm).To(BeNumerically(">", lastMigrate), "warm began before the migration ended: %v", got)

		// Records: the migration only in the chosen pod; every replica warmed.
		var migrateRecs, warmRecs int
		for _, r := range getRun(run).Status.Hooks {
			switch r.Hook {
			case "migrate":
				migrateRecs++
				Expect(r.SinglePod).To(BeTrue())
			case "warm":
				warmRecs++
			}
			Expect(r.Phase).To(Equal(v1alpha1.HookPhaseSucceeded), "%s %s", r.Pod, r.Hook)
		}
		Expect([]int{migrateRecs, warmRecs}).To(Equal([]int{1, 3}))
		Expect(eventReasons(run)).To(ContainElements("EntryReleased"))
	})

	It("skips the app's hooks when the database's fail, naming the failed hook", func() {
		ns, restore := newNamespace(), newRestore()
		db := hookSpec("db", map[string]string{"app": "db"}, shellHook("db", "exit 3"))
		app := hookSpec("app", map[string]string{"app": "api"}, shellHook("api", "echo never"))
		app.DependsOn = []string{"db"}
		runningPod(restoredPod(ns, "db-0", restore, map[string]string{"app": "db"}, nil, "db"))
		runningPod(restoredPod(ns, "api-0", restore, map[string]string{"app": "api"}, nil, "api"))
		run := newRun(ns, restore, db, app)
		completeRestore(restore)

		Eventually(runPhase(run), "60s").Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		rec := record(run, "api-0", "api", 0)
		Expect(rec.Phase).To(Equal(v1alpha1.HookPhaseSkipped))
		Expect(rec.Reason).To(Equal(v1alpha1.ReasonDependencyFailed))
		Expect(rec.Message).To(ContainSubstring(`entry "db" did not succeed: hook db[0] in ` + ns + "/db-0 container db ended Failed (NonZeroExit)"))
		Expect(eventReasons(run)).To(ContainElements("DependencyFailed"))
	})
})

// eventReasons returns the reasons of the Events about a run.
func eventReasons(run *v1alpha1.RestoreHookRun) []string {
	var list eventsv1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(run.Namespace))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Name == run.Name && e.Regarding.Kind == "RestoreHookRun" {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}
