//go:build !linux

package server

import (
	"context"
	"net"
)

// listen is net.Listen("tcp", addr) (listen_linux.go sets keep-alive once
// on the listening socket instead).
func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}
