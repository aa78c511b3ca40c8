// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Command bench runs every benchmark of the operator in one go, against the Meta simulator
// and a local control plane (bin/k8s, from `make envtest-bins`), and prints one table: each
// figure beside its goal, and whether it is met. `make bench` runs it at full size (about
// 5 minutes on 2 cores); -quick runs smaller sizes in about a minute.
//
// The figures come from Go benchmarks, which also run on their own with `go test -bench`:
//   - test/receiver: BenchmarkAck (webhook acknowledgement MB/s and latency),
//     BenchmarkDispatchHeavy (history messages processed per second) and
//     BenchmarkHeavySyncEndToEnd (a heavy CoexNumber applied to HistorySynced, with the
//     manager and receiver binaries: seconds, status writes, both processes' memory);
//     BenchmarkPostgresCeiling, BenchmarkAckPostgres and BenchmarkDispatchHeavyPostgres (the
//     same over the postgres store, beside the database's own INSERT rate; skipped without
//     PostgreSQL on the machine);
//   - test/scale: BenchmarkApply (N CoexNumbers applied at once to their sync requests with the
//     manager binary: seconds, Graph calls per number, steady state, memory).
//
// Their whole output, with each benchmark's own detailed table, goes to -log.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coex-operator/coex-operator/internal/controlplane"
)

// config is the size of a run.
type config struct {
	numbers  []int
	preset   string
	ackMB    int
	steady   bool
	log      string
	markdown bool
	quick    bool
	from     string
}

func main() {
	if err := run(); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		return err
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	if cfg.from != "" {
		return printFrom(cfg)
	}
	if !filepath.IsAbs(cfg.log) {
		cfg.log = filepath.Join(root, cfg.log)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.log), 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(cfg.log)
	if err != nil {
		return err
	}
	defer logFile.Close()

	steps := []step{
		{what: "receiver: acknowledgements and dispatch (bbolt, PostgreSQL), end to end with the manager", pkg: "./test/receiver/",
			bench: "^(BenchmarkAck|BenchmarkDiskCeiling|BenchmarkDispatchHeavy|BenchmarkHeavySyncEndToEnd|BenchmarkHeavySyncEndToEndPostgres|" +
				"BenchmarkPostgresCeiling|BenchmarkAckPostgres|BenchmarkDispatchHeavyPostgres)$",
			args: []string{"-bench.ack-mb=" + strconv.Itoa(cfg.ackMB), "-bench.preset=" + cfg.preset}},
		{what: "reconcilers: " + cfg.numbersArg() + " CoexNumbers applied at once", pkg: "./test/scale/",
			bench: "^BenchmarkApply$",
			args:  []string{"-bench.numbers=" + cfg.numbersArg(), "-bench.steady=" + strconv.FormatBool(cfg.steady)}},
	}
	res := results{}
	start := time.Now()
	var failed []string
	for _, s := range steps {
		if err := s.run(root, logFile, res); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", s.what, err))
		}
	}

	fmt.Println()
	fmt.Println(describeMachine(root))
	fmt.Printf("sizes: %s; took %s; every benchmark's own output: %s\n\n", cfg.sizes(), time.Since(start).Round(time.Second), cfg.log)
	printTable(res, cfg)
	if len(failed) > 0 {
		return fmt.Errorf("a benchmark failed (see %s):\n  %s", cfg.log, strings.Join(failed, "\n  "))
	}
	return nil
}

// printFrom prints the table of a saved -log, without running anything; the sizes of the
// CoexNumber runs are read from it.
func printFrom(cfg config) error {
	f, err := os.Open(cfg.from)
	if err != nil {
		return err
	}
	defer f.Close()
	res := results{}
	if err := parseBench(f, res); err != nil {
		return err
	}
	cfg.numbers = nil
	for name := range res {
		var n int
		if _, err := fmt.Sscanf(name, "BenchmarkApply/numbers=%d", &n); err == nil {
			cfg.numbers = append(cfg.numbers, n)
		}
	}
	slices.Sort(cfg.numbers)
	fmt.Printf("from %s\n\n", cfg.from)
	printTable(res, cfg)
	return nil
}

func printTable(res results, cfg config) {
	rows := buildTable(res, cfg)
	if cfg.markdown {
		fmt.Print(renderMarkdown(rows))
	} else {
		fmt.Print(renderText(rows))
	}
	fmt.Printf("\n%s\n", notes(cfg))
	if cfg.quick {
		fmt.Println("\n-quick: these sizes are too small to judge the goals by (start-up weighs on every figure); " +
			"`make bench` runs the full sizes the goals are set for.")
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "small sizes, about a minute: -numbers 100,500 -preset medium -ack-mb 128 -steady=false")
	numbers := fs.String("numbers", "1000,5000", "CoexNumbers applied at once, per run (comma-separated)")
	preset := fs.String("preset", "heavy", "simulator preset of the history benchmarks: small, medium or heavy")
	ackMB := fs.Int("ack-mb", 1536, "MB of webhook bodies acknowledged per body size")
	steady := fs.Bool("steady", true, "measure the steady-state Graph traffic (45 s, in runs of up to 1,000 numbers)")
	logPath := fs.String("log", "bin/bench/bench.log", "where the benchmarks' whole output goes (relative to the repository)")
	markdown := fs.Bool("markdown", false, "print the table as Markdown (for the README)")
	from := fs.String("from", "", "print the table of a saved -log instead of running (give the -preset it ran with)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickDefault := map[string]string{"numbers": "100,500", "preset": "medium", "ack-mb": "128", "steady": "false"}
		for name, v := range quickDefault {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	cfg := config{preset: *preset, ackMB: *ackMB, steady: *steady, log: *logPath, markdown: *markdown, quick: *quick, from: *from}
	for _, f := range strings.Split(*numbers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return config{}, fmt.Errorf("-numbers: %q is not a positive count", f)
		}
		cfg.numbers = append(cfg.numbers, n)
	}
	if cfg.ackMB <= 0 {
		return config{}, fmt.Errorf("-ack-mb must be positive")
	}
	switch cfg.preset {
	case "small", "medium", "heavy":
	default:
		return config{}, fmt.Errorf("-preset: %q is not small, medium or heavy", cfg.preset)
	}
	return cfg, nil
}

func (c config) sizes() string {
	return fmt.Sprintf("-numbers %s -preset %s -ack-mb %d -steady=%v", c.numbersArg(), c.preset, c.ackMB, c.steady)
}

// numbersArg is the -numbers list as given: "1000,5000".
func (c config) numbersArg() string {
	s := make([]string, len(c.numbers))
	for i, n := range c.numbers {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// step is one `go test -bench` run of one package.
type step struct {
	what, pkg, bench string
	args             []string
}

// run runs the benchmarks, writes their output to log, echoes their result lines to stderr
// as progress, and adds their figures to res.
func (s step) run(root string, log io.Writer, res results) error {
	fmt.Fprintf(os.Stderr, "== %s\n", s.what)
	args := append([]string{"test", "-run", "^$", "-bench", s.bench, "-benchtime", "1x", "-timeout", "90m", s.pkg, "-args"}, s.args...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	fmt.Fprintf(log, "$ go %s\n", strings.Join(args, " "))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			out.WriteString(line + "\n")
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") {
				fmt.Fprintln(os.Stderr, "   ", line)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	t0 := time.Now()
	err := cmd.Run()
	_ = pw.Close()
	<-done
	fmt.Fprintf(os.Stderr, "   (%s)\n", time.Since(t0).Round(time.Second))
	if perr := parseBench(&out, res); perr != nil && err == nil {
		err = perr
	}
	return err
}
