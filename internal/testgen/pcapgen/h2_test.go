package pcapgen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/apitap/apitap/reassembly/protomsg"
)

// TestShopProtoset checks the committed descriptor set of the demo's gRPC
// services against the generator, and that it loads.
func TestShopProtoset(t *testing.T) {
	b := ShopProtos()
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "demo", "shop.protoset"))
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("testdata/demo/shop.protoset differs from the generator's output (run make generate): %v", err)
	}
	r, err := protomsg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Method("/shop.v1.Inventory/SyncStock")
	if r.Methods() != 5 || m == nil || !m.ClientStreaming || !m.ServerStreaming {
		t.Fatalf("%d methods, SyncStock %+v", r.Methods(), m)
	}
}
