package cli

import (
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/sensor"
)

// guardBlocklist adds this host's own addresses and gateways to the
// blocklist's never-block set of a live sensor (the pipeline adds the
// trusted proxies).
func guardBlocklist(p *sensor.Pipeline) {
	p.Block.NeverBlock(blocklist.ReasonSensor, blocklist.LocalPrefixes()...)
	p.Block.NeverBlock(blocklist.ReasonGateway, blocklist.HostGateways()...)
}
