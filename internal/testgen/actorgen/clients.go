package actorgen

import (
	"fmt"
	"net/netip"

	"github.com/apitap/apitap/reassembly/http1"
)

// software is a client program: its User-Agent and the headers it sends,
// in its order.
type software struct {
	ua     string
	layout int    // header order: see headers
	lang   string // Accept-Language ("" none)
	accept string
	extra  []http1.Header // sent on every request after the User-Agent (sec-ch-ua, From, Postman-Token...)
}

// Header layouts.
const (
	layChrome = iota
	layFirefox
	laySafari
	layCurl
	layPython
	layGo
	layOkhttp
	layPostman
	layHTTPie
	layIOSApp
	layCrawler
	layProbe
	layJava
)

// headers are the request headers of s for host, with c's credentials.
func (s *software) headers(host string, c *client, body bool, method string) []http1.Header {
	h := make([]http1.Header, 0, 16)
	add := func(n, v string) {
		if v != "" {
			h = append(h, http1.Header{Name: n, Value: v})
		}
	}
	auth := ""
	switch {
	case c.bearer != "":
		auth = "Bearer " + c.bearer
	case c.basic != "":
		auth = "Basic " + c.basic
	}
	switch s.layout {
	case layChrome:
		add("Host", host)
		add("Connection", "keep-alive")
		for _, e := range s.extra {
			add(e.Name, e.Value)
		}
		add("Accept", s.accept)
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("User-Agent", s.ua)
		if method != "GET" {
			add("Origin", "https://"+host)
		}
		add("Sec-Fetch-Site", "same-origin")
		add("Sec-Fetch-Mode", "cors")
		add("Sec-Fetch-Dest", "empty")
		add("Referer", "https://"+host+"/")
		add("Accept-Encoding", "gzip, deflate, br, zstd")
		add("Accept-Language", s.lang)
		add("Cookie", c.cookie)
	case layFirefox:
		add("Host", host)
		add("User-Agent", s.ua)
		add("Accept", s.accept)
		add("Accept-Language", s.lang)
		add("Accept-Encoding", "gzip, deflate, br, zstd")
		add("Referer", "https://"+host+"/")
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		if method != "GET" {
			add("Origin", "https://"+host)
		}
		add("Connection", "keep-alive")
		add("Cookie", c.cookie)
		add("Sec-Fetch-Dest", "empty")
		add("Sec-Fetch-Mode", "cors")
		add("Sec-Fetch-Site", "same-origin")
	case laySafari:
		add("Host", host)
		add("Accept", s.accept)
		add("Sec-Fetch-Site", "same-origin")
		add("Cookie", c.cookie)
		add("Sec-Fetch-Dest", "empty")
		add("Accept-Language", s.lang)
		add("Sec-Fetch-Mode", "cors")
		add("User-Agent", s.ua)
		add("Referer", "https://"+host+"/")
		add("Accept-Encoding", "gzip, deflate, br")
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("Connection", "keep-alive")
	case layCurl:
		add("Host", host)
		add("User-Agent", s.ua)
		add("Accept", "*/*")
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("Cookie", c.cookie)
	case layPython:
		add("Host", host)
		add("User-Agent", s.ua)
		add("Accept-Encoding", "gzip, deflate")
		add("Accept", s.accept)
		add("Connection", "keep-alive")
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("Cookie", c.cookie)
	case layGo:
		add("Host", host)
		add("User-Agent", s.ua)
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("Cookie", c.cookie)
		add("Accept-Encoding", "gzip")
	case layOkhttp:
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		for _, e := range s.extra {
			add(e.Name, e.Value)
		}
		add("Host", host)
		add("Connection", "Keep-Alive")
		add("Accept-Encoding", "gzip")
		add("Cookie", c.cookie)
		add("User-Agent", s.ua)
	case layPostman:
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("User-Agent", s.ua)
		add("Accept", "*/*")
		for _, e := range s.extra {
			add(e.Name, e.Value)
		}
		add("Host", host)
		add("Accept-Encoding", "gzip, deflate, br")
		add("Connection", "keep-alive")
		add("Cookie", c.cookie)
	case layHTTPie:
		add("Host", host)
		add("User-Agent", s.ua)
		add("Accept-Encoding", "gzip, deflate")
		add("Accept", "application/json, */*;q=0.5")
		add("Connection", "keep-alive")
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
	case layIOSApp:
		add("Host", host)
		add("Accept", "application/json")
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		for _, e := range s.extra {
			add(e.Name, e.Value)
		}
		add("Accept-Encoding", "gzip, deflate, br")
		add("Accept-Language", s.lang)
		add("User-Agent", s.ua)
		add("Connection", "keep-alive")
	case layCrawler:
		add("Host", host)
		add("Connection", "keep-alive")
		for _, e := range s.extra {
			add(e.Name, e.Value)
		}
		add("User-Agent", s.ua)
		add("Accept", s.accept)
		add("Accept-Encoding", "gzip, deflate, br")
	case layProbe:
		add("Host", host)
		add("User-Agent", s.ua)
		add("Accept", s.accept)
		add("Connection", "close")
	case layJava:
		add("Authorization", auth)
		add("X-Api-Key", c.apiKey)
		add("Accept", s.accept)
		add("Host", host)
		add("Connection", "Keep-Alive")
		add("User-Agent", s.ua)
		add("Accept-Encoding", "gzip,deflate")
	}
	return h
}

var platforms = []string{"Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64"}
var languages = []string{"en-US,en;q=0.9", "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9,en;q=0.8", "es-ES,es;q=0.9", "nl-NL,nl;q=0.9,en;q=0.8",
	"pl-PL,pl;q=0.9,en;q=0.7", "it-IT,it;q=0.9,en;q=0.6", "pt-BR,pt;q=0.9,en;q=0.8", "sv-SE,sv;q=0.9,en;q=0.8"}

// browser is a desktop browser of a random make, version and language.
func (g *gen) browser() *software {
	lang := languages[g.r.IntN(len(languages))]
	switch g.r.IntN(10) {
	case 0, 1, 2, 3, 4: // Chrome
		v := 118 + g.r.IntN(14)
		p := platforms[g.r.IntN(len(platforms))]
		return &software{ua: fmt.Sprintf("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", p, v), layout: layChrome,
			lang: lang, accept: "application/json, text/plain, */*", extra: []http1.Header{
				{Name: "sec-ch-ua", Value: fmt.Sprintf(`"Chromium";v="%d", "Google Chrome";v="%d", "Not?A_Brand";v="99"`, v, v)},
				{Name: "sec-ch-ua-mobile", Value: "?0"}, {Name: "sec-ch-ua-platform", Value: `"` + platformName(p) + `"`}}}
	case 5: // Edge
		v := 119 + g.r.IntN(12)
		return &software{ua: fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.0.0", v, v),
			layout: layChrome, lang: lang, accept: "application/json, text/plain, */*", extra: []http1.Header{
				{Name: "sec-ch-ua", Value: fmt.Sprintf(`"Microsoft Edge";v="%d", "Chromium";v="%d", "Not?A_Brand";v="24"`, v, v)},
				{Name: "sec-ch-ua-mobile", Value: "?0"}, {Name: "sec-ch-ua-platform", Value: `"Windows"`}}}
	case 6, 7: // Firefox
		v := 115 + g.r.IntN(19)
		p := platforms[g.r.IntN(len(platforms))]
		return &software{ua: fmt.Sprintf("Mozilla/5.0 (%s; rv:%d.0) Gecko/20100101 Firefox/%d.0", p, v, v), layout: layFirefox, lang: lang,
			accept: "application/json, text/plain, */*"}
	default: // Safari
		v := 16 + g.r.IntN(3)
		return &software{ua: fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%d.%d Safari/605.1.15", v, g.r.IntN(6)),
			layout: laySafari, lang: lang, accept: "application/json, text/plain, */*"}
	}
}

func platformName(p string) string {
	switch p[0] {
	case 'W':
		return "Windows"
	case 'M':
		return "macOS"
	}
	return "Linux"
}

// mobileApp is the shop's own app on a phone.
func (g *gen) mobileApp() *software {
	if g.r.IntN(2) == 0 {
		return &software{ua: fmt.Sprintf("ShopApp/5.%d.%d (com.example.shop; build:%d; iOS 17.%d.%d) Alamofire/5.8.1", 3+g.r.IntN(3), g.r.IntN(4), 5300+g.r.IntN(300), g.r.IntN(5), g.r.IntN(3)),
			layout: layIOSApp, lang: languages[g.r.IntN(len(languages))][:5], extra: []http1.Header{{Name: "X-App-Version", Value: "5.4"}}}
	}
	models := []string{"Pixel 7", "SM-S911B", "SM-A546B", "Pixel 8 Pro", "M2101K6G", "CPH2449"}
	return &software{ua: fmt.Sprintf("ShopApp/5.%d.%d (Android %d; %s) okhttp/4.12.0", 3+g.r.IntN(3), g.r.IntN(4), 12+g.r.IntN(3), models[g.r.IntN(len(models))]),
		layout: layOkhttp, extra: []http1.Header{{Name: "X-App-Version", Value: "5.4"}}}
}

// tool is a command-line tool or HTTP library.
func (g *gen) tool(which string) *software {
	switch which {
	case "curl":
		return &software{ua: fmt.Sprintf("curl/8.%d.%d", 2+g.r.IntN(8), g.r.IntN(2)), layout: layCurl}
	case "python":
		return &software{ua: fmt.Sprintf("python-requests/2.%d.%d", 28+g.r.IntN(5), g.r.IntN(3)), layout: layPython, accept: "*/*"}
	case "go":
		return &software{ua: "Go-http-client/1.1", layout: layGo}
	case "okhttp":
		return &software{ua: fmt.Sprintf("okhttp/4.%d.0", 9+g.r.IntN(4)), layout: layOkhttp}
	case "postman":
		return &software{ua: fmt.Sprintf("PostmanRuntime/7.%d.%d", 36+g.r.IntN(8), g.r.IntN(3)), layout: layPostman,
			extra: []http1.Header{{Name: "Postman-Token", Value: g.hexStr(16)}, {Name: "Cache-Control", Value: "no-cache"}}}
	case "httpie":
		return &software{ua: "HTTPie/3.2.2", layout: layHTTPie}
	case "java":
		return &software{ua: "Apache-HttpClient/4.5.14 (Java/17.0.9)", layout: layJava, accept: "application/json"}
	}
	panic("actorgen: unknown tool " + which)
}

// Address pools. Residential and cloud pools avoid the published ranges of
// the search-engine crawlers (Google, Bing, Apple) and of Google's health
// checkers.
var residential8 = []byte{24, 67, 68, 71, 73, 76, 81, 82, 86, 88, 90, 94, 98, 109, 151, 174, 176, 178, 188}
var cloud8 = []byte{3, 18, 44, 54}

// addr returns a fresh address of a pool.
func (g *gen) addr(pool string) netip.Addr {
	for {
		var b [4]byte
		switch pool {
		case "residential":
			b = [4]byte{residential8[g.r.IntN(len(residential8))], byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "cloud":
			b = [4]byte{cloud8[g.r.IntN(len(cloud8))], byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "carrier": // the public side of a mobile carrier's NAT
			b = [4]byte{172, byte(56 + g.r.IntN(8)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "office":
			b = [4]byte{213, byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "googlebot": // inside googlebot.json's 66.249.64.0/19 prefixes
			b = [4]byte{66, 249, []byte{66, 68, 69, 72, 73, 79}[g.r.IntN(6)], byte(1 + g.r.IntN(60))}
		case "bingbot": // bingbot.json
			nets := [][3]byte{{157, 55, 39}, {207, 46, 13}, {40, 77, 167}}
			n := nets[g.r.IntN(len(nets))]
			b = [4]byte{n[0], n[1], n[2], byte(1 + g.r.IntN(250))}
		case "googlehc": // Google Cloud load balancer health checkers
			b = [4]byte{35, 191, byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "k8snode":
			b = [4]byte{10, 244, byte(g.r.IntN(32)), byte(1 + g.r.IntN(253))}
		case "vpc":
			b = [4]byte{172, 31, byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "internal":
			b = [4]byte{10, 30, byte(g.r.IntN(256)), byte(1 + g.r.IntN(253))}
		case "lb":
			b = [4]byte{10, 0, 5, byte(1 + g.r.IntN(253))}
		default:
			panic("actorgen: unknown pool " + pool)
		}
		a := netip.AddrFrom4(b)
		if pool == "lb" || !g.used[a] {
			g.used[a] = true
			return a
		}
	}
}

// newClient makes a client at a fresh address of pool (through one of the
// load balancers for ShopHost).
func (g *gen) newClient(pool string, sw *software) *client {
	return g.clientAt(g.addr(pool), sw)
}

func (g *gen) clientAt(a netip.Addr, sw *software) *client {
	return &client{addr: a, sw: sw, viaLB: true, lb: netip.AddrFrom4([4]byte{10, 0, 5, byte(1 + int(a.As4()[3])%3)})}
}
