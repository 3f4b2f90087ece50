package discovery

import (
	"strings"
	"testing"
)

// TestTemplateFolding: folded places become parameters named like any
// other, an API extension after them; without folds it is Template;
// places past 31 and gRPC methods are kept.
func TestTemplateFolding(t *testing.T) {
	deep := strings.Repeat("/a", 33)
	for _, c := range []struct {
		path string
		fold uint32
		want string
	}{
		{"/blog/posts/my-first-post", 1 << 2, "/blog/posts/{postId}"},
		{"/catalog/categories/coral/products/blue-mug", 1<<2 | 1<<4, "/catalog/categories/{categoryId}/products/{productId}"},
		{"/users/42/posts/hello", 1 << 3, "/users/{userId}/posts/{postId}"},
		{"/blog/posts/my-first-post", 0, Template("/blog/posts/my-first-post")},
		{"/files/report.pdf", 1 << 1, "/files/{fileId}"},
		{"/files/123.json", 1 << 1, "/files/{fileId}.json"}, // the extension stays, as in the catalog
		{"/exports/q1-report.CSV", 1 << 1, "/exports/{exportId}.CSV"},
		{"/files/v1.2", 1 << 1, "/files/{fileId}"},
		{"/files/123.json", 0, "/files/{fileId}.json"},
		{"/pkg.Service/Method", 1, "/pkg.Service/Method"},
		{deep, 1 << 31, strings.Repeat("/a", 31) + "/{aId}/a"},
	} {
		if got := TemplateFolding(c.path, c.fold); got != c.want {
			t.Errorf("TemplateFolding(%q, %b) = %q, want %q", c.path, c.fold, got, c.want)
		}
	}
}

// TestFoldable: Foldable is exempt's negation, and allocates nothing for
// ASCII segments.
func TestFoldable(t *testing.T) {
	for w := range literalWords {
		if len(w) > 16 {
			t.Errorf("literal word %q is longer than exempt's buffer", w)
		}
	}
	for _, seg := range []string{"me", "ME", "Search", "v1", "V2beta1", "my-first-post", "users", "", "bul\u212a", "caf\u00e9",
		strings.Repeat("a", 17), "autocomplete", "AutoComplete"} {
		// the catalog's rule in its plain form
		if want := !(isVersion(seg) || literalWords[strings.ToLower(seg)]); Foldable(seg) != want {
			t.Errorf("Foldable(%q) = %v, want %v", seg, Foldable(seg), want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Foldable("My-First-Post") }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
