package server_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMalformedConnectGetIsInvalidArgument: a Connect GET whose message does not decode as
// base64 is the client's mistake (invalid_argument, HTTP 400), not the server's; a good one is
// served.
func TestMalformedConnectGetIsInvalidArgument(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hc := f.env.HTTPClient(t, caller, echoSvc)
	get := func(message string) (int, string) {
		q := url.Values{"connect": {"v1"}, "encoding": {"json"}, "base64": {"1"}, "message": {message}}
		res, err := hc.Get("https://" + f.srv.Addr() + echoProcedure + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for _, good := range []string{base64.RawURLEncoding.EncodeToString([]byte(`"get"`)), base64.URLEncoding.EncodeToString([]byte(`"get"`))} {
		if status, body := get(good); status != http.StatusOK || !strings.Contains(body, "get from "+caller.String()) {
			t.Errorf("GET with message %q: %d %s", good, status, body)
		}
	}
	for _, bad := range []string{"%%%", "!!!!", "a", "eyJ9*"} {
		status, body := get(bad)
		var e struct{ Code, Message string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || status != http.StatusBadRequest || e.Code != "invalid_argument" ||
			e.Message != "message query parameter: not URL-safe base64" {
			t.Errorf("GET with message %q: %d %s, want 400 invalid_argument naming the message parameter", bad, status, body)
		}
	}
}
