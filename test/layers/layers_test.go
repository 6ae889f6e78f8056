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

// Package layers checks the import rule that keeps the codebase layered: each package imports only the
// layers below it, and nothing outside test/ imports test/.
package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const module = "github.com/restorehooks/restore-hook-operator"

// A layer is a rank and the packages in it. A package may import a lower rank, or its own rank where
// the layer says so; never a higher one.
type layer struct {
	name     string
	rank     int
	prefixes []string // module-relative paths; a prefix ending in "/" covers the subtree
	// siblings says whether packages of this layer may import each other (pure rules build on each
	// other; reconcilers and admission must not reach into one another).
	siblings bool
}

// layers is the rule of the codebase, bottom first.
var layers = []layer{
	{name: "api", rank: 0, prefixes: []string{"api/"}, siblings: true},
	{name: "pure rules", rank: 1, prefixes: []string{"internal/hook", "internal/plan", "internal/policy", "internal/scope", "internal/describe"}, siblings: true},
	{name: "adapters", rank: 2, prefixes: []string{"internal/exec", "internal/localcluster"}, siblings: true},
	{name: "reconcilers and admission", rank: 3, prefixes: []string{"controllers", "internal/webhook"}},
	{name: "wiring", rank: 4, prefixes: []string{"operator"}},
	{name: "programs and tests", rank: 5, prefixes: []string{"cmd/", "test/", "hack/"}, siblings: true},
}

func layerOf(pkg string) (layer, bool) {
	rel, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return layer{}, false
	}
	for _, l := range layers {
		for _, p := range l.prefixes {
			if rel == strings.TrimSuffix(p, "/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p)) ||
				strings.HasPrefix(rel, p+"/") {
				return l, true
			}
		}
	}
	return layer{}, false
}

// group returns the prefix a package belongs to, so that two packages of one layer are siblings only
// when they are different groups (internal/hook and its subpackages are one group).
func group(pkg string) string {
	rel := strings.TrimPrefix(pkg, module+"/")
	for _, l := range layers {
		for _, p := range l.prefixes {
			if strings.HasSuffix(p, "/") {
				continue
			}
			if rel == p || strings.HasPrefix(rel, p+"/") {
				return p
			}
		}
	}
	return rel
}

// pkgImports is what go list says of one package.
type pkgImports struct {
	ImportPath   string
	Imports      []string
	TestImports  []string // in-package tests: same rule as the package
	XTestImports []string // external _test packages may drive the whole wiring, but never import test/
}

// violations applies the rule to the module's packages and returns one line per broken import.
func violations(pkgs []pkgImports) []string {
	var out []string
	for _, p := range pkgs {
		own, ok := layerOf(p.ImportPath)
		if !ok {
			out = append(out, fmt.Sprintf("%s: in no layer: add it to the rule in test/layers", strings.TrimPrefix(p.ImportPath, module+"/")))
			continue
		}
		check := func(imports []string, external bool) {
			for _, imp := range imports {
				if !strings.HasPrefix(imp, module+"/") {
					continue
				}
				rel, relImp := strings.TrimPrefix(p.ImportPath, module+"/"), strings.TrimPrefix(imp, module+"/")
				if strings.HasPrefix(relImp, "test/") && !strings.HasPrefix(rel, "test/") {
					out = append(out, fmt.Sprintf("%s imports %s: only test/ may import test/", rel, relImp))
					continue
				}
				if external {
					continue
				}
				dep, ok := layerOf(imp)
				if !ok {
					continue // reported as a package of its own
				}
				switch {
				case dep.rank > own.rank:
					out = append(out, fmt.Sprintf("%s (%s) imports %s (%s): upward import", rel, own.name, relImp, dep.name))
				case dep.rank == own.rank && !own.siblings && group(imp) != group(p.ImportPath):
					out = append(out, fmt.Sprintf("%s imports %s: both are %s; move what they share down a layer", rel, relImp, own.name))
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, false)
		check(p.XTestImports, true)
	}
	slices.Sort(out)
	return out
}

func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestImportsFollowTheLayers(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader(goList(t, "-json=ImportPath,Imports,TestImports,XTestImports", "./...")))
	var pkgs []pkgImports
	for {
		var p pkgImports
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

func TestProgramsDependOnNoTestCode(t *testing.T) {
	deps := strings.Fields(string(goList(t, "-deps", "./cmd/...")))
	if !slices.Contains(deps, module+"/operator") {
		t.Fatalf("go list -deps ./cmd/... does not name operator; the check reads the wrong tree:\n%v", deps)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, module+"/test/") {
			t.Errorf("a program under cmd/ depends on %s: move what it needs out of test/", d)
		}
	}
}

// The rule itself, on made-up import graphs: it must catch what it is for.
func TestViolations(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	tests := map[string]struct {
		pkgs []pkgImports
		want []string
	}{
		"downward imports are fine": {pkgs: []pkgImports{
			{ImportPath: m("controllers"), Imports: []string{m("api/v1alpha1"), m("internal/plan"), m("internal/exec"), "fmt"}},
			{ImportPath: m("operator"), Imports: []string{m("controllers"), m("internal/webhook")}},
			{ImportPath: m("cmd/local"), Imports: []string{m("operator"), m("internal/localcluster")}},
		}},
		"pure rules build on each other": {pkgs: []pkgImports{
			{ImportPath: m("internal/plan"), Imports: []string{m("internal/hook"), m("internal/scope")}},
		}},
		"wiring below what it composes": {
			pkgs: []pkgImports{{ImportPath: m("controllers"), Imports: []string{m("operator")}}},
			want: []string{"controllers (reconcilers and admission) imports operator (wiring): upward import"},
		},
		"pure rule reaching an adapter": {
			pkgs: []pkgImports{{ImportPath: m("internal/plan"), Imports: []string{m("internal/exec")}}},
			want: []string{"internal/plan (pure rules) imports internal/exec (adapters): upward import"},
		},
		"reconciler reaching into admission": {
			pkgs: []pkgImports{{ImportPath: m("controllers"), Imports: []string{m("internal/webhook")}}},
			want: []string{"controllers imports internal/webhook: both are reconcilers and admission; move what they share down a layer"},
		},
		"a program importing test code": {
			pkgs: []pkgImports{{ImportPath: m("cmd/local"), Imports: []string{m("test/e2e")}}},
			want: []string{"cmd/local imports test/e2e: only test/ may import test/"},
		},
		"an external test importing test code": {
			pkgs: []pkgImports{{ImportPath: m("internal/exec"), XTestImports: []string{m("test/reliability")}}},
			want: []string{"internal/exec imports test/reliability: only test/ may import test/"},
		},
		"an external test may drive the wiring": {pkgs: []pkgImports{
			{ImportPath: m("controllers"), XTestImports: []string{m("operator")}},
		}},
		"an in-package test follows the rule": {
			pkgs: []pkgImports{{ImportPath: m("internal/hook"), TestImports: []string{m("controllers")}}},
			want: []string{"internal/hook (pure rules) imports controllers (reconcilers and admission): upward import"},
		},
		"a package in no layer": {
			pkgs: []pkgImports{{ImportPath: m("pkg/util")}},
			want: []string{"pkg/util: in no layer: add it to the rule in test/layers"},
		},
		"tests may share test helpers": {pkgs: []pkgImports{
			{ImportPath: m("test/e2e"), Imports: []string{m("test/bench")}},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, violations(tc.pkgs)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
