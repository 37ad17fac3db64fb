package issuer_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"mercato.dev/certs/issuer"
)

// The exec-after-connect trick, played by this test binary in three roles:
// the connecting parent (trickEnv), the child it passes the connection to
// (passedEnv), and the parent again once it has exec'd a registered binary
// (reapEnv).
const (
	trickEnv  = "MERCATO_ISSUER_TEST_TRICK"  // socket|registered binary
	passedEnv = "MERCATO_ISSUER_TEST_PASSED" // registered binary
	reapEnv   = "MERCATO_ISSUER_TEST_REAP"
)

// The passed connection and the child's "exec now" pipe, as the child sees them.
const (
	passedConnFD = 3
	execNowFD    = 4
)

// TestExecAfterConnectGetsNoSVID: a process registered as /test/helper
// connects, hands the connection to a child, which completes a call on it,
// then execs the binary registered as /test/edge. The child's next call on
// the same connection must get nothing: the connection belongs to what its
// process was when it connected.
func TestExecAfterConnectGetsNoSVID(t *testing.T) {
	t.Parallel()
	helper := filepath.Join(t.TempDir(), "helper.test")
	copyFile(t, selfPath(t), helper)
	edge := selfEntry(t, "/test/edge")
	helperEntry := issuer.Entry{ID: spiffeid.RequireFromPath(td, "/test/helper"), Selectors: []string{"unix:path:" + helper}}
	cfg := testConfig(t, edge, helperEntry)
	startIssuer(t, cfg)

	// The registered binary itself does get the edge's SVID.
	if got := fetchID(t, cfg.SocketPath); got != edge.ID.String() {
		t.Fatalf("the registered binary got %q, want %s", got, edge.ID)
	}

	cmd := exec.Command(helper)
	cmd.Env = append(os.Environ(), trickEnv+"="+cfg.SocketPath+"|"+selfPath(t))
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	want := []string{
		"before exec: OK " + helperEntry.ID.String(),
		"parent runs: " + selfPath(t),
		"after exec: PermissionDenied",
		"dials: 1",
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("helper output lacks %q", w)
		}
	}
}

// fetchID returns the default SVID's ID this process gets on a new connection.
func fetchID(t *testing.T, sock string) string {
	t.Helper()
	svid, err := fetchOn(testCtx(t), dial(t, sock))
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

// fetchOn asks for X.509-SVIDs on conn and returns the default one's ID.
func fetchOn(ctx context.Context, conn *grpc.ClientConn) (string, error) {
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true"))
	defer cancel()
	stream, err := workload.NewSpiffeWorkloadAPIClient(conn).FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err != nil {
		return "", err
	}
	resp, err := stream.Recv()
	if err != nil {
		return "", err
	}
	svids, err := x509svid.ParseRaw(resp.GetSvids()[0].GetX509Svid(), resp.GetSvids()[0].GetX509SvidKey())
	if err != nil {
		return "", err
	}
	return svids.ID.String(), nil
}

// runTrick connects, passes the connection to a child and, once the child
// has completed a call on it, execs the registered binary.
func runTrick(arg string) int {
	sock, registered, _ := strings.Cut(arg, "|")
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return fail("dial: %v", err)
	}
	connFile, err := conn.(*net.UnixConn).File()
	if err != nil {
		return fail("conn file: %v", err)
	}
	execNowR, execNowW, err := os.Pipe()
	if err != nil {
		return fail("pipe: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail("executable: %v", err)
	}
	child := exec.Command(self)
	child.Env = append(withoutTestModes(), passedEnv+"="+registered)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	child.ExtraFiles = []*os.File{connFile, execNowW} // fds 3 and 4
	if err := child.Start(); err != nil {
		return fail("start child: %v", err)
	}
	connFile.Close()
	execNowW.Close()
	conn.Close() // the child holds the connection now
	if _, err := execNowR.Read(make([]byte, 1)); err != nil {
		return fail("child never asked for the exec: %v", err)
	}
	err = syscall.Exec(registered, []string{registered}, append(withoutTestModes(), reapEnv+"=1"))
	return fail("exec %s: %v", registered, err)
}

// runPassed completes a call on the inherited connection, lets the parent
// exec, and calls again.
func runPassed(registered string) int {
	conn, err := net.FileConn(os.NewFile(passedConnFD, "passed"))
	if err != nil {
		return fail("inherited connection: %v", err)
	}
	var dials atomic.Int32
	cc, err := grpc.NewClient("passthrough:///passed",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			if dials.Add(1) > 1 {
				return nil, fmt.Errorf("the passed connection is gone")
			}
			return conn, nil
		}))
	if err != nil {
		return fail("client: %v", err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	id, err := fetchOn(ctx, cc)
	fmt.Printf("before exec: %s %s\n", status.Code(err), id)

	execNow := os.NewFile(execNowFD, "exec-now")
	if _, err := execNow.Write([]byte{1}); err != nil {
		return fail("ask for the exec: %v", err)
	}
	execNow.Close()
	parentExe := "/proc/" + strconv.Itoa(os.Getppid()) + "/exe"
	for now, _ := os.Readlink(parentExe); now != registered; now, _ = os.Readlink(parentExe) {
		if ctx.Err() != nil {
			return fail("parent still runs %s, not %s", now, registered)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("parent runs: %s\n", registered)
	id, err = fetchOn(ctx, cc)
	fmt.Printf("after exec: %s %s (%v)\n", status.Code(err), id, err)
	fmt.Printf("dials: %d\n", dials.Load())
	return 0
}

// runReap is the parent after its exec: it waits for the child.
func runReap() int {
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
		return fail("wait for the child: %v", err)
	}
	return ws.ExitStatus()
}

func withoutTestModes() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, trickEnv+"=") && !strings.HasPrefix(kv, passedEnv+"=") && !strings.HasPrefix(kv, reapEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return 1
}
