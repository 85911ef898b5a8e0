package server

import (
	"context"
	"fmt"
	"net"
	"syscall"
)

// TCP keep-alive of accepted connections: net.Listen's defaults (Go's
// KeepAliveConfig with zero values).
const (
	keepAliveIdle     = 15 // seconds before the first probe
	keepAliveInterval = 15 // seconds between probes
	keepAliveCount    = 9  // unanswered probes before the connection is dropped
	// deferAccept: accept a connection once its first bytes arrived (the
	// request, or TLS's ClientHello) rather than at the handshake's end,
	// so that the first read finds them instead of parking the connection
	// in the poller until they come (TCP_DEFER_ACCEPT, as nginx's
	// "deferred"). Seconds the kernel waits for them; then it hands the
	// connection over anyway (and the read timeouts apply as before).
	deferAccept = 5
)

// listen is net.Listen("tcp", addr) with keep-alive and TCP_NODELAY set
// once on the listening socket instead of on every accepted connection.
// net.Listen's accept makes four setsockopt calls per connection for
// keep-alive (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT):
// 8–10 % of serve's CPU when every request comes on a new connection, as
// Kibana's node-fetch sends them (docs/benchmarks.md, production size).
// Linux copies these options from the listening socket to the sockets it
// accepts (TestListenKeepAliveWithoutPerConnectionCalls checks that they
// arrive), so the connections keep the same probes; net.TCPConn still
// sets TCP_NODELAY itself. The listener also defers accepting until the
// client's first bytes (deferAccept).
func listen(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{
		KeepAlive: -1, // no per-connection calls: inherited (below)
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				for _, o := range [...]struct{ level, opt, v int }{
					{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
					{syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, deferAccept},
				} {
					if serr = syscall.SetsockoptInt(int(fd), o.level, o.opt, o.v); serr != nil {
						serr = fmt.Errorf("setsockopt %d/%d: %w", o.level, o.opt, serr)
						return
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	return lc.Listen(ctx, "tcp", addr)
}
