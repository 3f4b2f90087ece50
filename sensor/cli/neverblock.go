package cli

import (
	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/sensor"
)

// guardBlocklist adds to the blocklist's never-block set the trusted
// proxies (whose forwarded-for headers name the client: the proxy itself
// is never the attacker) and, on a live sensor, this host's own addresses
// and gateways.
func guardBlocklist(p *sensor.Pipeline, live bool) {
	if bc, ok := p.AnalyzerConfig(behavior.Name).(*behavior.Config); ok {
		if ps, err := sensor.Prefixes("trusted_proxies", bc.TrustedProxies); err == nil {
			p.Block.NeverBlock(blocklist.ReasonTrustedProxy, ps...)
		}
	}
	if live {
		p.Block.NeverBlock(blocklist.ReasonSensor, blocklist.LocalPrefixes()...)
		p.Block.NeverBlock(blocklist.ReasonGateway, blocklist.HostGateways()...)
	}
}
