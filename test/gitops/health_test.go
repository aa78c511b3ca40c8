// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package gitops_test runs the Argo CD health checks in config/gitops/argocd with a Lua
// interpreter, the way Argo CD does: the object as a Lua table in the global obj, the script's
// returned table read for status and message.
package gitops_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

type healthTests struct {
	Tests []struct {
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
		InputPath string `json:"inputPath"`
	} `json:"tests"`
}

func argocdDir(t *testing.T) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "config", "gitops", "argocd")
}

// TestArgoCDHealth runs every case of each kind's health_test.yaml.
func TestArgoCDHealth(t *testing.T) {
	for _, kind := range []string{"CoexNumber", "MetaApp"} {
		dir := filepath.Join(argocdDir(t), "whatsapp.coex.dev", kind)
		script := readFile(t, filepath.Join(dir, "health.lua"))
		var cases healthTests
		if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(dir, "health_test.yaml"))), &cases); err != nil {
			t.Fatal(err)
		}
		if len(cases.Tests) == 0 {
			t.Fatalf("%s: no test cases", kind)
		}
		for _, c := range cases.Tests {
			t.Run(kind+"/"+c.InputPath, func(t *testing.T) {
				var obj map[string]any
				if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(dir, c.InputPath))), &obj); err != nil {
					t.Fatal(err)
				}
				status, message := runHealth(t, script, obj)
				if status != c.HealthStatus.Status || message != c.HealthStatus.Message {
					t.Errorf("health = %s %q\nwant     %s %q", status, message, c.HealthStatus.Status, c.HealthStatus.Message)
				}
			})
		}
		// Every testdata file is a case.
		files, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
		used := map[string]bool{}
		for _, c := range cases.Tests {
			used[filepath.Join(dir, c.InputPath)] = true
		}
		for _, f := range files {
			if !used[f] {
				t.Errorf("%s has no case in health_test.yaml", f)
			}
		}
	}
}

// TestArgoCDConfigMapHoldsTheScripts: argocd-cm.yaml embeds exactly the tested scripts.
func TestArgoCDConfigMapHoldsTheScripts(t *testing.T) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(argocdDir(t), "argocd-cm.yaml"))), &cm); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "resource.customizations.health.whatsapp.coex.dev_CoexNumber,resource.customizations.health.whatsapp.coex.dev_MetaApp" {
		t.Fatalf("argocd-cm keys: %v", keys)
	}
	for _, kind := range []string{"CoexNumber", "MetaApp"} {
		want := readFile(t, filepath.Join(argocdDir(t), "whatsapp.coex.dev", kind, "health.lua"))
		if got := cm.Data["resource.customizations.health.whatsapp.coex.dev_"+kind]; got != want {
			t.Errorf("argocd-cm.yaml's %s script differs from its health.lua", kind)
		}
	}
}

// runHealth runs script with obj as Argo CD does and returns the status and message.
func runHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("lua: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %s, not a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

// toLua converts decoded YAML/JSON into Lua values, as Argo CD's runtime does.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	default:
		panic("unexpected value in an object")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
