package behavior

import (
	"net/netip"
	"strings"
)

// agent is what the User-Agent says the client software is.
type agent uint8

const (
	agentNone       agent = iota // no User-Agent
	agentBrowser                 // a browser (Mozilla/... with an engine)
	agentTool                    // a library, command-line tool or app
	agentAutomation              // a headless browser or automation framework
	agentCrawler                 // a declared crawler or bot
	agentChecker                 // a health checker (Kubernetes probes, load balancers, uptime monitors)
)

var agentNames = [...]string{"none", "browser", "tool", "automation", "crawler", "health_check"}

// automationMarkers name headless browsers and automation frameworks.
var automationMarkers = []string{"headlesschrome", "phantomjs", "selenium", "puppeteer", "playwright", "webdriver", "slimerjs", "electron/"}

// checkerMarkers name health checkers and uptime monitors.
var checkerMarkers = []string{"kube-probe/", "elb-healthchecker", "googlehc/", "consul health", "amazon-route53-health-check", "envoy/hc", "haproxy",
	"nagios", "check_http", "uptimerobot", "pingdom", "statuscake", "blackbox-exporter", "health-check", "healthcheck", "site24x7", "datadog agent"}

// crawlerMarkers say a client calls itself a crawler (its name is then
// checked against the configured crawlers).
var crawlerMarkers = []string{"bot", "crawler", "spider", "slurp", "facebookexternalhit", "ia_archiver"}

// classifyAgent names the software of a User-Agent (lower case, at most
// 256 bytes) and the family used in fingerprints.
func classifyAgent(ua string) (agent, string) {
	if ua == "" {
		return agentNone, ""
	}
	l := ua
	if len(l) > 256 {
		l = l[:256]
	}
	low := strings.ToLower(l)
	for _, m := range checkerMarkers {
		if strings.Contains(low, m) {
			return agentChecker, strings.TrimSuffix(m, "/")
		}
	}
	for _, m := range automationMarkers {
		if strings.Contains(low, m) {
			return agentAutomation, strings.TrimSuffix(m, "/")
		}
	}
	for _, m := range crawlerMarkers {
		if strings.Contains(low, m) {
			return agentCrawler, crawlerName(low)
		}
	}
	for _, t := range tools {
		if strings.Contains(low, t) {
			return agentTool, t
		}
	}
	if strings.HasPrefix(ua, "Mozilla/") {
		switch {
		case strings.Contains(l, "Firefox/"):
			return agentBrowser, "browser/firefox"
		case strings.Contains(l, "Edg/"):
			return agentBrowser, "browser/edge"
		case strings.Contains(l, "Chrome/"):
			return agentBrowser, "browser/chrome"
		case strings.Contains(l, "Safari/"):
			return agentBrowser, "browser/safari"
		}
		return agentBrowser, "browser/other"
	}
	if i := strings.IndexAny(low, "/ ("); i > 0 {
		return agentTool, low[:i]
	}
	return agentTool, low
}

// crawlerName is the product token of a crawler's User-Agent: the word
// with "bot", "crawler" or "spider" in it ("googlebot", "ahrefsbot").
func crawlerName(low string) string {
	for _, f := range strings.FieldsFunc(low, func(r rune) bool {
		return r == ' ' || r == ';' || r == '(' || r == ')' || r == '/' || r == ',' || r == '+'
	}) {
		for _, m := range crawlerMarkers {
			if strings.Contains(f, m) && !strings.Contains(f, ".") && !strings.Contains(f, ":") {
				return "crawler/" + f
			}
		}
	}
	return "crawler"
}

// tools are User-Agent markers of libraries and tools (checked before the
// browser markers: many tools pretend to be Mozilla).
var tools = []string{"curl", "wget", "python-requests", "python-urllib", "python-httpx", "aiohttp", "go-http-client", "okhttp", "java/", "apache-httpclient",
	"libwww-perl", "scrapy", "axios", "node-fetch", "undici", "postmanruntime", "insomnia", "httpie", "powershell", "sqlmap", "nikto", "nuclei", "masscan",
	"zgrab", "gobuster", "dirbuster", "ffuf", "wpscan"}

// uaFamily is the family of a User-Agent (as fingerprints use it).
func uaFamily(ua string) string {
	_, f := classifyAgent(ua)
	return f
}

// Crawler is a search engine's crawler: the User-Agent tokens it is known
// by and the address ranges its operator publishes.
type Crawler struct {
	Name   string   `yaml:"name"`
	Agents []string `yaml:"agents"` // User-Agent substrings, any case
	Ranges []string `yaml:"ranges"` // CIDRs or addresses
}

// DefaultCrawlers are the major search engines' crawlers with their
// published ranges as of February 2026 (Google's googlebot.json, Bing's
// bingbot.json; Apple: its 17.0.0.0/8 network). Replace them with current
// lists through the crawlers setting.
var DefaultCrawlers = []Crawler{
	{Name: "googlebot", Agents: []string{"googlebot", "google-inspectiontool", "googleother", "storebot-google", "adsbot-google", "mediapartners-google"},
		Ranges: []string{"66.249.64.0/19", "192.178.4.0/24", "192.178.5.0/27", "192.178.6.0/23", "34.22.85.0/27", "34.64.82.64/28", "34.65.242.112/28",
			"34.80.50.80/28", "34.88.194.0/28", "34.89.10.80/28", "34.89.198.80/28", "34.96.162.48/28", "34.100.182.96/28", "34.101.50.144/28",
			"34.118.66.0/28", "34.118.254.0/28", "34.126.178.96/28", "34.146.150.144/28", "34.147.110.144/28", "34.151.74.144/28", "34.152.50.64/28",
			"34.154.114.144/28", "34.155.98.32/28", "34.165.18.176/28", "34.175.160.64/28", "34.176.130.16/28", "35.247.243.240/28", "2001:4860:4801::/48"}},
	{Name: "bingbot", Agents: []string{"bingbot", "adidxbot", "bingpreview", "msnbot"},
		Ranges: []string{"157.55.39.0/24", "207.46.13.0/24", "40.77.167.0/24", "13.66.139.0/24", "13.66.144.0/24", "52.167.144.0/24", "13.67.10.16/28",
			"13.69.66.240/28", "13.71.172.224/28", "139.217.52.0/28", "191.233.204.224/28", "20.36.108.32/28", "20.43.120.16/28", "40.79.131.208/28",
			"40.79.186.176/28", "52.231.148.0/28", "20.79.107.240/28", "51.105.67.0/28", "20.125.163.80/28", "40.77.188.0/22", "65.55.210.0/24",
			"199.30.24.0/23", "40.77.202.0/24", "40.77.139.0/25", "20.74.197.0/28", "20.15.133.160/27", "40.77.177.0/24", "40.77.178.0/23"}},
	{Name: "applebot", Agents: []string{"applebot"}, Ranges: []string{"17.0.0.0/8"}},
}

// crawler is a configured crawler, parsed.
type crawler struct {
	name   string
	agents []string // lower case
	ranges []netip.Prefix
}

func newCrawlers(list []Crawler) []crawler {
	var out []crawler
	for _, c := range list {
		cr := crawler{name: c.Name}
		for _, a := range c.Agents {
			cr.agents = append(cr.agents, strings.ToLower(a))
		}
		for _, r := range c.Ranges {
			if p, err := parsePrefix(r); err == nil {
				cr.ranges = append(cr.ranges, p)
			}
		}
		out = append(out, cr)
	}
	return out
}

// claim says which configured crawler a User-Agent claims to be (-1 for
// none) and whether addr is in its published ranges.
func claim(cs []crawler, low string, addr netip.Addr) (int, bool) {
	for i := range cs {
		for _, a := range cs[i].agents {
			if strings.Contains(low, a) {
				for _, p := range cs[i].ranges {
					if p.Contains(addr) {
						return i, true
					}
				}
				return i, false
			}
		}
	}
	return -1, false
}

// healthPaths are the paths health checks ask for (lower case).
var healthPaths = []string{"/healthz", "/readyz", "/livez", "/health", "/healthcheck", "/health-check", "/ping", "/status", "/ready", "/alive",
	"/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness", "/-/healthy", "/-/ready", "/api/health", "/_health"}

// healthPath says whether a path is one that health checks ask for.
func healthPath(p string) bool {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	if len(p) < 5 || len(p) > 26 {
		return false
	}
	for _, h := range healthPaths {
		if len(h) == len(p) && strings.EqualFold(h, p) {
			return true
		}
	}
	return false
}

// internalAddr is a private, loopback, link-local or carrier-grade NAT
// address (where health checkers of a cluster or a cloud network live).
func internalAddr(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")
