package issuer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strconv"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// sdsAPI serves Envoy's Secret Discovery Service (state of the world;
// DeltaSecrets answers Unimplemented, as with SPIRE).
type sdsAPI struct {
	secretv3.UnimplementedSecretDiscoveryServiceServer
	iss *Issuer
}

var _ secretv3.SecretDiscoveryServiceServer = sdsAPI{}

type sdsServerStream = grpc.BidiStreamingServer[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]

// FetchSecrets answers one request with the caller's current secrets.
func (s sdsAPI) FetchSecrets(ctx context.Context, req *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	if err := checkTypeURL(req.GetTypeUrl()); err != nil {
		return nil, err
	}
	c, err := attest(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.iss.viewFor(c)
	if err != nil {
		return nil, err
	}
	resources, err := secretsFor(v, s.iss.cfg.TrustDomain, req.GetResourceNames())
	if err != nil {
		return nil, err
	}
	version, err := contentHash(resources)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &discoveryv3.DiscoveryResponse{VersionInfo: version, Resources: resources, TypeUrl: secretTypeURL}, nil
}

// StreamSecrets answers each change of requested names and pushes the
// secrets again whenever their content changes (SVID renewal, bundle
// change). Every response has a new version and nonce; a request carrying a
// nonce other than the last one sent is stale and ignored.
func (s sdsAPI) StreamSecrets(stream sdsServerStream) error {
	c, err := attest(stream.Context())
	if err != nil {
		return err
	}
	st := &sdsStream{iss: s.iss, caller: c, stream: stream}
	return st.run()
}

// sdsStream is the state of one StreamSecrets call.
type sdsStream struct {
	iss    *Issuer
	caller caller
	stream sdsServerStream

	requested bool     // a request has arrived
	names     []string // the resource names last requested
	version   int      // of the last response
	nonce     string   // of the last response
	sentHash  string   // content of the last response
}

func (s *sdsStream) run() error {
	ctx := s.stream.Context()
	reqs, recvErr := s.receive()
	changed := s.iss.hub.changed()
	for {
		var err error
		select {
		case req := <-reqs:
			err = s.onRequest(req)
		case <-changed:
			changed = s.iss.hub.changed()
			err = s.push(false)
		case err = <-recvErr:
			return err
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.iss.stopping:
			return errStopping
		}
		if err != nil {
			return err
		}
	}
}

// receive reads requests until the stream ends; a client closing its side
// or cancelling ends the call without error.
func (s *sdsStream) receive() (<-chan *discoveryv3.DiscoveryRequest, <-chan error) {
	reqs := make(chan *discoveryv3.DiscoveryRequest)
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := s.stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
					err = nil
				}
				errc <- err
				return
			}
			select {
			case reqs <- req:
			case <-s.stream.Context().Done():
				return
			}
		}
	}()
	return reqs, errc
}

func (s *sdsStream) onRequest(req *discoveryv3.DiscoveryRequest) error {
	if err := checkTypeURL(req.GetTypeUrl()); err != nil {
		return err
	}
	if s.nonce != "" {
		if req.GetResponseNonce() != s.nonce {
			s.iss.log.Debug("SDS: ignoring stale request", "nonce", req.GetResponseNonce(), "expected", s.nonce)
			return nil
		}
		if req.GetVersionInfo() != strconv.Itoa(s.version) || req.GetErrorDetail() != nil {
			s.iss.log.Warn("SDS: client rejected secrets", append(s.caller.logAttrs(),
				"version", strconv.Itoa(s.version), "error", req.GetErrorDetail().GetMessage())...)
		}
	}
	if s.requested && sameNames(s.names, req.GetResourceNames()) {
		return nil // an ACK or NACK: nothing new was asked
	}
	s.requested, s.names = true, req.GetResourceNames()
	return s.push(true)
}

// push sends the requested secrets when they changed since the last
// response, or unconditionally when force is set.
func (s *sdsStream) push(force bool) error {
	if !s.requested {
		return nil
	}
	v, err := s.iss.viewFor(s.caller)
	if err != nil {
		return err
	}
	resources, err := secretsFor(v, s.iss.cfg.TrustDomain, s.names)
	if err != nil {
		return err
	}
	hash, err := contentHash(resources)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if !force && hash == s.sentHash {
		return nil
	}
	return s.send(resources, hash)
}

func (s *sdsStream) send(resources []*anypb.Any, hash string) error {
	nonce, err := newNonce()
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	resp := &discoveryv3.DiscoveryResponse{
		VersionInfo: strconv.Itoa(s.version + 1),
		Resources:   resources,
		TypeUrl:     secretTypeURL,
		Nonce:       nonce,
	}
	if err := s.stream.Send(resp); err != nil {
		return err
	}
	s.version++
	s.nonce, s.sentHash = nonce, hash
	return nil
}

// checkTypeURL accepts the Secret type, or none.
func checkTypeURL(typeURL string) error {
	if typeURL != "" && typeURL != secretTypeURL {
		return status.Errorf(codes.InvalidArgument, "type %q is not served here; want %q", typeURL, secretTypeURL)
	}
	return nil
}

// sameNames reports whether two resource name lists hold the same names.
func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
