package analyzertest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

func TestTx(t *testing.T) {
	b := NewTx("POST", "/v1/orders?dry=1").Host("shop.example").Header("Authorization", "Bearer x").
		Body("application/json", `{"sku":"a"}`).Status(201).RespBody("application/json", `{"id":7}`).From("198.51.100.7:51000").At(T0.Add(time.Minute), time.Millisecond)
	tx := b.Build()
	if tx.Request.Path != "/v1/orders" || tx.Request.Query != "dry=1" || tx.Request.Host != "shop.example" || len(tx.Request.Headers) != 2 {
		t.Fatalf("request %+v", tx.Request)
	}
	if tx.Response == nil || tx.Response.Status != 201 || string(tx.Response.Body.Bytes()) != `{"id":7}` || !tx.Response.Start.Equal(T0.Add(time.Minute+time.Millisecond)) {
		t.Fatalf("response %+v", tx.Response)
	}
	if tx.Flow.Client.String() != "198.51.100.7:51000" || !tx.Flow.Confirmed {
		t.Fatalf("flow %+v", tx.Flow)
	}
	// every Build is a new transaction
	tx.Request.Headers[0].Value = "changed"
	if b.Build().Request.Headers[0].Value != "Bearer x" {
		t.Error("Build shares headers")
	}
	if NewTx("GET", "/").Build().Response != nil {
		t.Error("a response without Status")
	}
}

func TestCollector(t *testing.T) {
	var c Collector
	c.Detection(&event.Detection{Class: "sqli"})
	c.Detection(&event.Detection{Class: "xss"})
	c.Detection(&event.Detection{Class: "sqli"})
	if c.Count("sqli") != 2 || !c.Has("xss") || c.Has("bola") || len(c.Classes()) != 3 {
		t.Errorf("%v", c.Classes())
	}
	c.Reset()
	if len(c.Detections) != 0 {
		t.Error("reset")
	}
}

func TestGolden(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g", "out.jsonl")
	t.Setenv("APITAP_UPDATE_GOLDEN", "1")
	Golden(t, p, []byte("a\nb\n"))
	t.Setenv("APITAP_UPDATE_GOLDEN", "")
	Golden(t, p, []byte("a\nb\n"))
	if b, _ := os.ReadFile(p); string(b) != "a\nb\n" {
		t.Errorf("%q", b)
	}
}
