package listener

import (
	"net"
	"testing"
	"time"
)

func TestLimitListenerClosesBeyondTheLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &limitListener{Listener: ln, limit: func() ConnLimit { return ConnLimit{Max: 2} }}
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	first, second := <-accepted, <-accepted
	// The third and fourth were closed by the listener: their reads end.
	for i, c := range clients[2:] {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("connection %d beyond the limit was served", i+3)
		}
	}
	_ = first.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Error("a connection within the limit again was not accepted")
	}
	_ = second.Close()
	for _, c := range clients {
		_ = c.Close()
	}
}
