package client_test

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/server"
)

func newMux(s *server.Server, h func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error), procedures ...string) *http.ServeMux {
	mux := http.NewServeMux()
	for _, p := range procedures {
		mux.Handle(p, connect.NewUnaryHandlerSimple(p, h, s.HandlerOptions()...))
	}
	return mux
}
