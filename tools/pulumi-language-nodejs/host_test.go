package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestParseArgs(t *testing.T) {
	a, err := parseArgs([]string{"--logtostderr", "-v=9", "--tracing", "http://127.0.0.1:9411", "127.0.0.1:4321"})
	if err != nil {
		t.Fatal(err)
	}
	if a.engineAddress != "127.0.0.1:4321" || a.tracing != "http://127.0.0.1:9411" || !a.logToStderr || a.verbose != "9" {
		t.Fatalf("unexpected %+v", a)
	}
	if _, err := parseArgs([]string{"--tracing"}); err == nil {
		t.Fatal("expected an error for a flag without its value")
	}
}

func TestBuildRunCommand(t *testing.T) {
	h := newHost("127.0.0.1:1000", "")
	opts, _ := structpb.NewStruct(map[string]any{"typescript": false, "nodeargs": "--max-old-space-size=512"})
	rc, err := h.buildRunCommand(&pulumirpc.RunRequest{
		MonitorAddress:   "127.0.0.1:2000",
		Project:          "p",
		Stack:            "s",
		Organization:     "organization",
		Pwd:              "/prog",
		Program:          ".",
		Args:             []string{"extra"},
		Config:           map[string]string{"p:name": "v"},
		ConfigSecretKeys: []string{"p:name"},
		DryRun:           true,
		Parallel:         4,
		Info:             &pulumirpc.ProgramInfo{RootDirectory: "/prog", ProgramDirectory: "/prog", EntryPoint: ".", Options: opts},
	}, "/nm/run/index.js")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--max-old-space-size=512", "/nm/run/index.js", "--monitor=127.0.0.1:2000", "--engine=127.0.0.1:1000",
		"--organization=organization", "--project=p", "--stack=s", "--root-directory=/prog", "--pwd=/prog",
		"--dry-run", "--parallel=4", ".", "extra",
	}
	if !slices.Equal(rc.args, want) {
		t.Fatalf("args\n got %q\nwant %q", rc.args, want)
	}
	for _, e := range []string{`PULUMI_CONFIG={"p:name":"v"}`, `PULUMI_CONFIG_SECRET_KEYS=["p:name"]`, "PULUMI_NODEJS_TYPESCRIPT=false"} {
		if !slices.Contains(rc.env, e) {
			t.Fatalf("env %q lacks %q", rc.env, e)
		}
	}
}

func TestFindRunEntry(t *testing.T) {
	root := t.TempDir()
	entry := filepath.Join(root, "node_modules", filepath.FromSlash(runEntry))
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := findRunEntry("", deep)
	if err != nil || got != entry {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := findRunEntry(t.TempDir()); err == nil {
		t.Fatal("expected an error when there is no node_modules")
	}
}

func TestRunResult(t *testing.T) {
	if r := runResult(nil); r.Error != "" || r.Bail {
		t.Fatalf("success: %+v", r)
	}
	if r := runResult(exec.Command("sh", "-c", "exit 32").Run()); !r.Bail {
		t.Fatalf("exit 32 should bail: %+v", r)
	}
	if r := runResult(exec.Command("sh", "-c", "exit 3").Run()); r.Error == "" || r.Bail {
		t.Fatalf("exit 3 should be an error: %+v", r)
	}
}
