package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (installed by .ci/run).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("APITAP_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium is not installed (.ci/run installs Debian's chromium)")
	}
	t.Skip("chromium is not installed: apt-get install chromium to run the report rendering test")
	return ""
}

// TestReportInChromium opens the demo report in headless Chromium: it
// renders without console errors or exceptions, the catalog, detections
// and actors sections hold the expected rows, the filter works, and a
// screenshot is saved under bin/ as a CI artifact.
func TestReportInChromium(t *testing.T) {
	exe := chromium(t)
	in := demoInput(t)
	var b bytes.Buffer
	if err := Render(&b, in); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(repoRoot, "bin")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	htmlPath, _ := filepath.Abs(filepath.Join(outDir, "report-demo.html"))
	if err := os.WriteFile(htmlPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1366, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+htmlPath), chromedp.WaitVisible(chromedp.ID("summary"))); err != nil {
		t.Fatal(err)
	}
	count := func(js string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return n
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	endpoints := count(`document.querySelectorAll("#tree .ep").length`)
	detections := count(`document.querySelectorAll("#recent .detection-row").length`)
	classes := count(`document.querySelectorAll("#classes .class-row").length`)
	actors := count(`document.querySelectorAll("#actor-table .actor-row").length`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("filter"), "login")); err != nil {
		t.Fatal(err)
	}
	filtered := count(`Array.from(document.querySelectorAll("#tree .ep")).filter(e => e.style.display !== "none").length`)
	count(`(function(){ var f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input")); return 0; })()`)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shotPath := filepath.Join(outDir, "report-demo.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("title %q: %d catalog endpoints, %d detection rows, %d classes, %d actors; filter \"login\" leaves %d; screenshot %s (%d KB)",
		title, endpoints, detections, classes, actors, filtered, shotPath, len(shot)/1024)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	if want := len(in.Catalog.Endpoints); endpoints != want {
		t.Errorf("catalog shows %d endpoints, want %d", endpoints, want)
	}
	if detections < 20 || classes < 10 {
		t.Errorf("detections section: %d rows, %d classes", detections, classes)
	}
	if actors < 5 {
		t.Errorf("actors section: %d rows", actors)
	}
	if filtered != 1 {
		t.Errorf("filtering the catalog on \"login\" leaves %d endpoints, want 1", filtered)
	}
	if len(shot) < 10000 {
		t.Errorf("screenshot of %d bytes", len(shot))
	}
}
