// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

// Package pgtest runs real, throwaway PostgreSQL servers for tests.
//
// A Server is a fresh cluster in its own temp dir, listening on a free port on 127.0.0.1 and on a
// private unix socket dir, with trust auth for the superuser "postgres". Durability settings are
// the production ones (fsync, synchronous_commit), so crash tests mean something.
//
// When the PostgreSQL binaries are missing, Start and Shared skip the test, unless
// COEX_REQUIRE_POSTGRES=1 (CI sets it), in which case they fail it.
package pgtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// RequireEnv names the env var that turns "PostgreSQL is not installed" from a skip into a failure.
	RequireEnv = "COEX_REQUIRE_POSTGRES"

	superuser = "postgres"
	defaultDB = "test"

	startTimeout = 60 * time.Second // covers crash recovery after Kill
	stopTimeout  = 60 * time.Second
)

// baseSettings go into every cluster's postgresql.conf; standbys inherit them through
// pg_basebackup. Port, socket dir and listen address are per instance and passed on the
// postgres command line instead, so a standby copied from a primary does not collide with it.
var baseSettings = [][2]string{
	{"fsync", "on"},
	{"synchronous_commit", "on"},
	{"max_connections", "200"},
	{"shared_buffers", "128MB"},
	{"wal_level", "replica"},
	{"max_wal_senders", "10"},
	{"hot_standby", "on"},
	{"logging_collector", "off"}, // stderr already goes to the log file
}

// errUnavailable marks failures caused by the machine lacking PostgreSQL, which skip rather than fail.
var errUnavailable = errors.New("PostgreSQL is not available")

// Option adjusts a server started by Start.
type Option func(*config)

type config struct{ settings [][2]string }

// WithSetting sets a postgresql.conf parameter, overriding the defaults; standbys inherit it.
func WithSetting(name, value string) Option {
	return func(c *config) { c.settings = append(c.settings, [2]string{name, value}) }
}

// Server is one PostgreSQL instance: a primary from Start or Shared, or a standby from StartStandby.
type Server struct {
	env    *env
	root   string   // holds data/, sock/ and postgres.log; writable by the server's OS user
	lock   *os.File // flocked while this process lives; see sweepStale
	port   int
	db     string
	shared bool

	mu   sync.Mutex
	proc *postmaster // nil while stopped
}

type postmaster struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
}

// Start initialises a fresh cluster, starts it, creates a database and returns the server.
// The server is stopped (immediate mode) and its dir removed when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	s, err := startPrimary(cfg)
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(func() {
		if err := s.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns a server shared by every test in the test binary, started on first use.
// Tests must use their own database (NewDatabase) and must not stop, kill, restart or promote it.
// It dies with the test binary; its dir is removed by the next binary that uses this package.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		shared.srv, shared.err = startPrimary(config{})
		if shared.err == nil {
			shared.srv.shared = true
		}
	})
	if shared.err != nil {
		fail(t, shared.err)
	}
	return shared.srv
}

func fail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errUnavailable) {
		if os.Getenv(RequireEnv) != "1" {
			t.Skipf("pgtest: %v (set %s=1 to fail instead of skipping)", err, RequireEnv)
		}
		t.Fatalf("pgtest: %v (%s=1 requires it)", err, RequireEnv)
	}
	t.Fatalf("pgtest: %v", err)
}

// DSN is the URL of the server's test database.
func (s *Server) DSN() string { return s.dsn(s.db) }

// Port is the server's TCP port on 127.0.0.1, e.g. for building multi-host DSNs.
func (s *Server) Port() int { return s.port }

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, url.PathEscape(db))
}

func (s *Server) dataDir() string { return filepath.Join(s.root, "data") }
func (s *Server) sockDir() string { return filepath.Join(s.root, "sock") }
func (s *Server) logPath() string { return filepath.Join(s.root, "postgres.log") }

var dbSeq atomic.Int64

// NewDatabase creates an empty database named after the test and returns its DSN, so tests sharing
// one server stay independent. It is dropped when the test ends, if the server is still up then.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := dbName(t.Name(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if !s.running() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		// FORCE: a test that leaks a connection must not leak the database on a Shared server.
		if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// dbName makes a database name that says which test owns it and fits PostgreSQL's 63-byte limit.
func dbName(test string, seq int64) string {
	suffix := "_" + strconv.FormatInt(seq, 10)
	b := []byte(strings.ToLower(test))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	if limit := 63 - len(suffix); len(b) > limit {
		b = b[:limit]
	}
	return string(b) + suffix
}

// Stop shuts the server down cleanly (fast mode: clients are disconnected, then a checkpoint).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mustNotBeShared(t, "Stop")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stop(syscall.SIGINT); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Kill SIGKILLs the postmaster and all its children at once, as a machine or container crash
// would, and returns when they are gone. Restart then goes through crash recovery.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mustNotBeShared(t, "Kill")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.kill(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Restart starts the server again on the same data dir and port, stopping it first if it is up.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mustNotBeShared(t, "Restart")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if err := s.stop(syscall.SIGINT); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// StartStandby clones the server with pg_basebackup and starts the clone as a streaming hot
// standby on its own port. It is removed when the test ends.
func (s *Server) StartStandby(t testing.TB) *Server {
	t.Helper()
	sb, err := s.startStandby()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return sb
}

// Promote turns a standby into a primary and returns once it accepts writes.
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	s.mustNotBeShared(t, "Promote")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		t.Fatalf("pgtest: promote: %v", err)
	}
	defer conn.Close(ctx)
	var promoted bool
	// Unlike `pg_ctl promote`, pg_promote needs no access to the data dir and waits for the end of recovery itself.
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&promoted); err != nil {
		t.Fatalf("pgtest: promote: %v", err)
	}
	if !promoted {
		t.Fatalf("pgtest: promote: still in recovery after 60s\n%s", s.logTail(0))
	}
}

func (s *Server) mustNotBeShared(t testing.TB, op string) {
	t.Helper()
	if s.shared {
		t.Fatalf("pgtest: %s on the Shared server would break every other test using it; use Start", op)
	}
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

func startPrimary(cfg config) (*Server, error) {
	e, err := loadEnv()
	if err != nil {
		return nil, err
	}
	s, err := e.newServer(defaultDB)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err = s.initPrimary(ctx, cfg)
	if err == nil {
		err = s.startOnFreePort()
	}
	if err == nil {
		err = s.admin(ctx, "CREATE DATABASE "+defaultDB)
	}
	if err != nil {
		return nil, errors.Join(err, s.destroy())
	}
	return s, nil
}

func (s *Server) initPrimary(ctx context.Context, cfg config) error {
	out, err := s.env.command(ctx, s.root, "initdb",
		"-D", s.dataDir(), "-U", superuser, "--auth=trust", "--encoding=UTF8", "--locale=C",
		// The cluster is thrown away after the test, so surviving an OS crash during initdb is moot.
		"--no-sync", "--no-instructions",
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var conf bytes.Buffer
	conf.WriteString("\n# pgtest\n")
	for _, kv := range slices.Concat(baseSettings, cfg.settings) {
		fmt.Fprintf(&conf, "%s = '%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", "''"))
	}
	return appendFile(filepath.Join(s.dataDir(), "postgresql.conf"), conf.Bytes())
}

func (s *Server) startStandby() (*Server, error) {
	sb, err := s.env.newServer(s.db)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := s.env.command(ctx, sb.root, "pg_basebackup",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", superuser, "-D", sb.dataDir(),
		// -R: write standby.signal and primary_conninfo; -c fast: don't wait for a spread checkpoint.
		"-R", "-X", "stream", "-c", "fast", "--no-sync",
	).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	} else {
		err = sb.startOnFreePort()
	}
	if err != nil {
		return nil, errors.Join(err, sb.destroy())
	}
	return sb, nil
}

// startOnFreePort picks a port and starts, picking another if someone else bound it in between.
func (s *Server) startOnFreePort() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			return err
		}
		if err = s.start(); err == nil || !strings.Contains(err.Error(), "could not create any TCP/IP sockets") {
			return err
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the postmaster and waits until it accepts connections. Callers hold s.mu.
func (s *Server) start() error {
	if s.proc != nil {
		return errors.New("already running")
	}
	logFile, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	logStart, _ := logFile.Seek(0, io.SeekEnd)
	cmd := s.env.command(context.Background(), s.root, "postgres", "-D", s.dataDir(),
		"-c", "port="+strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.sockDir(),
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A server must not outlive the test binary, even one killed by a test timeout.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	err = startFromLockedThread(cmd)
	logFile.Close() // the postmaster has its own descriptor
	if err != nil {
		return fmt.Errorf("starting postgres: %v", err)
	}
	p := &postmaster{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	s.proc = p
	if err := s.waitReady(p); err != nil {
		s.stop(syscall.SIGKILL)
		return fmt.Errorf("postgres on port %d did not start: %v\nserver log:\n%s", s.port, err, s.logTail(logStart))
	}
	return nil
}

// waitReady polls until the server accepts a connection, which for a standby also means it has
// reached a consistent state.
func (s *Server) waitReady(p *postmaster) error {
	deadline := time.Now().Add(startTimeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited: %v", p.cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, s.dsn("postgres")); err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", startTimeout, err)
}

// stop signals the postmaster and waits for it to exit, SIGKILLing it if it takes too long.
// Callers hold s.mu.
func (s *Server) stop(sig syscall.Signal) error {
	p := s.proc
	if p == nil {
		return errors.New("server is not running")
	}
	s.proc = nil
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("postgres did not stop within %v of %v; killed it", stopTimeout, sig)
	}
}

// kill SIGKILLs the postmaster and its children. A postmaster killed alone leaves backends
// running until they notice, still attached to shared memory, which makes the next start fail;
// they must die together. Callers hold s.mu.
func (s *Server) kill() error {
	p := s.proc
	if p == nil {
		return errors.New("server is not running")
	}
	pid := p.cmd.Process.Pid
	// Frozen, the postmaster cannot fork a child we would miss.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stopping postmaster: %v", err)
	}
	children := childrenOf(pid)
	for _, c := range children {
		syscall.Kill(c, syscall.SIGKILL)
	}
	s.stop(syscall.SIGKILL)
	deadline := time.Now().Add(stopTimeout)
	for _, c := range children {
		for alive(c) {
			if time.Now().After(deadline) {
				return fmt.Errorf("postgres child %d survived SIGKILL for %v", c, stopTimeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// destroy stops the server in immediate mode (no checkpoint: it is about to be deleted) and removes its dir.
func (s *Server) destroy() error {
	s.mu.Lock()
	var err error
	if s.proc != nil {
		err = s.stop(syscall.SIGQUIT)
	}
	s.mu.Unlock()
	// Remove before unlocking, or a concurrent sweepStale could race us for the dir.
	err = errors.Join(err, os.RemoveAll(s.root))
	s.lock.Close()
	return err
}

// admin runs a statement in the maintenance database.
func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// logTail returns the last lines of the server log written at or after offset.
func (s *Server) logTail(offset int64) string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return err.Error()
	}
	b = b[min(offset, int64(len(b))):]
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// env is how this machine runs PostgreSQL: where the binaries are and as which OS user.
type env struct {
	binDir string
	// cred is the postgres OS user when running as root: initdb and postgres refuse to run as root.
	cred *syscall.Credential
}

var loadEnv = sync.OnceValues(func() (*env, error) {
	dir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	e := &env{binDir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: running as root, and PostgreSQL refuses root, but there is no postgres OS user to run it as: %v", errUnavailable, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		e.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	sweepStale()
	return e, nil
})

// findBinDir asks pg_config, then falls back to Debian's versioned dirs, newest first, since
// pg_config comes with libpq-dev, not with the server.
func findBinDir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(debian, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	candidates = append(candidates, debian...)
	for _, dir := range candidates {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: no initdb, postgres and pg_basebackup in `pg_config --bindir` or /usr/lib/postgresql/*/bin (apt-get install postgresql)", errUnavailable)
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres", "pg_basebackup"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// command runs a PostgreSQL binary as the server's OS user, from dir: a working directory that
// user cannot enter makes initdb and postgres fail.
func (e *env) command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(e.binDir, name), args...)
	cmd.Dir = dir
	// The caller's PG* variables (PGHOST, PGPORT, PGDATA, ...) must not redirect the tools; TZ
	// spares initdb probing the zoneinfo tree.
	cmd.Env = []string{"TZ=UTC", "HOME=" + dir, "LC_ALL=C"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "TMPDIR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	return cmd
}

// newServer creates the server's dir, owned by the server's OS user. It is short (under
// TMPDIR, not t.TempDir) because unix socket paths are limited to 107 bytes, and root-owned
// t.TempDir parents are mode 0700, closed to the postgres user.
func (e *env) newServer(db string) (*Server, error) {
	root, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{env: e, root: root, db: db}
	if s.lock, err = lockDir(root); err == nil {
		err = os.Mkdir(s.sockDir(), 0o700)
	}
	if err == nil && e.cred != nil {
		for _, p := range []string{root, s.sockDir()} {
			if err = os.Chown(p, int(e.cred.Uid), int(e.cred.Gid)); err != nil {
				break
			}
		}
	}
	if err != nil {
		os.RemoveAll(root)
		if s.lock != nil {
			s.lock.Close()
		}
		return nil, err
	}
	return s, nil
}

// lockDir holds an flock on dir/lock for as long as this process lives. The file is locked
// before it is renamed into place, so sweepStale never finds it unlocked while its owner lives.
func lockDir(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "lock-")
	if err != nil {
		return nil, err
	}
	if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, "lock"))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sweepStale removes the dirs of servers whose test binary has died: their postmasters died
// with it (Pdeathsig), but nothing removed Shared servers' dirs, nor those of tests cut short
// by a timeout.
func sweepStale() {
	locks, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*", "lock"))
	for _, lock := range locks {
		f, err := os.Open(lock)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(filepath.Dir(lock))
		}
		f.Close()
	}
}

// startFromLockedThread starts cmd from a thread that never exits. Pdeathsig fires when the
// forking thread exits, not the process (prctl(2)), and the Go runtime ends a thread whose
// goroutine exits while locked to it; forking from one immortal thread makes Pdeathsig mean
// "the test binary died".
func startFromLockedThread(cmd *exec.Cmd) error {
	errc := make(chan error)
	forker() <- func() { errc <- cmd.Start() }
	return <-errc
}

var forker = sync.OnceValue(func() chan<- func() {
	fns := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked
		for fn := range fns {
			fn()
		}
	}()
	return fns
})

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(c); ok && ppid == pid {
			kids = append(kids, c)
		}
	}
	return kids
}

// alive reports whether pid is a process that has not exited. A zombie has exited: it no longer
// holds shared memory, and its reaper (init) is not ours to wait for.
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// procStat reads a process's state and parent from /proc/pid/stat.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ...", where comm may itself contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}
