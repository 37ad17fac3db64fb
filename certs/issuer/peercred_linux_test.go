package issuer

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// dialEnv makes the test binary connect to the unix socket it names, write
// one byte and exit (see TestMain).
const dialEnv = "MERCATO_ISSUER_TEST_DIAL"

func TestPeerCredentialsIdentifyTheConnectingProcess(t *testing.T) {
	t.Parallel()
	lis := listenTemp(t)
	go func() {
		if conn, err := net.Dial("unix", lis.Addr().String()); err == nil {
			defer conn.Close()
			conn.Write([]byte{1})
			conn.Read(make([]byte, 1))
		}
	}()
	conn := accept(t, lis)
	info, err := readPeerCred(conn)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.PID) != os.Getpid() || int(info.UID) != os.Getuid() || int(info.GID) != os.Getgid() {
		t.Errorf("peer %+v, want pid %d uid %d gid %d", info, os.Getpid(), os.Getuid(), os.Getgid())
	}
	if info.proc == nil {
		t.Skip("kernel without SO_PEERPIDFD (Linux < 6.5): pid reuse is not detected")
	}
	if !info.proc.alive() {
		t.Error("a live peer reported as gone")
	}
	info.proc.release()
	if info.proc.alive() {
		t.Error("a released handle reported as live")
	}
}

func TestPeerThatExitedIsNotAlive(t *testing.T) {
	t.Parallel()
	lis := listenTemp(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), dialEnv+"="+lis.Addr().String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dialing child: %v\n%s", err, out)
	}
	conn := accept(t, lis) // the child has exited by now
	info, err := readPeerCred(conn)
	if err != nil {
		t.Fatal(err)
	}
	if info.proc == nil {
		t.Skip("kernel without SO_PEERPIDFD (Linux < 6.5): pid reuse is not detected")
	}
	defer info.proc.release()
	if info.proc.alive() {
		t.Errorf("peer pid %d exited, yet reported alive", info.PID)
	}
}

func listenTemp(t *testing.T) *net.UnixListener {
	t.Helper()
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	return lis
}

func accept(t *testing.T, lis *net.UnixListener) *net.UnixConn {
	t.Helper()
	conn, err := lis.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
