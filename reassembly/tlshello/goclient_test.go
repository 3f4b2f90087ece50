package tlshello_test

import (
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testutil/tlshellotest"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// TestGoClient fingerprints the ClientHello that crypto/tls really sends.
func TestGoClient(t *testing.T) {
	h, err := tlshello.Parse(tlshellotest.GoClientHello(t, "api.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	ja4 := h.JA4()
	t.Logf("Go crypto/tls ClientHello: %s (SNI %s, ALPN %v)", ja4, h.SNI, h.ALPN)
	if !strings.HasPrefix(ja4, "t13d") || !strings.Contains(ja4, "h2_") || h.SNI != "api.example.com" {
		t.Errorf("JA4 %s SNI %q", ja4, h.SNI)
	}
}
