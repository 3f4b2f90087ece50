package discovery

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/oschwald/maxminddb-golang/v2"
)

// geoDB reads the MaxMind-format databases the user supplies (GeoLite2 or
// GeoIP2 Country/City for countries, ASN for networks; one file may hold
// both). Readers are safe for concurrent use.
type geoDB struct {
	dbs []*maxminddb.Reader
}

// geoInfo is what the databases say of one client address.
type geoInfo struct {
	country string // ISO code, or "unknown"
	network string // "AS64500 Example Org", or "unknown"
}

// geoRecord holds the fields apitap reads from any of the databases.
type geoRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	ASN uint   `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// openGeo opens the configured databases; nil when none is configured.
func openGeo(paths ...string) (*geoDB, error) {
	var g geoDB
	for _, p := range paths {
		if p == "" {
			continue
		}
		r, err := maxminddb.Open(p)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("open MaxMind database %s: %w", p, err)
		}
		g.dbs = append(g.dbs, r)
	}
	if len(g.dbs) == 0 {
		return nil, nil
	}
	return &g, nil
}

func (g *geoDB) close() {
	for _, r := range g.dbs {
		r.Close()
	}
}

// lookup asks every database about a; the first answer for each field wins.
func (g *geoDB) lookup(a netip.Addr) geoInfo {
	info := geoInfo{country: "unknown", network: "unknown"}
	for _, r := range g.dbs {
		var rec geoRecord
		if err := r.Lookup(a.Unmap()).Decode(&rec); err != nil {
			continue
		}
		if c := rec.Country.ISOCode; c != "" && info.country == "unknown" {
			info.country = boundedToken(c)
		} else if c := rec.RegisteredCountry.ISOCode; c != "" && info.country == "unknown" {
			info.country = boundedToken(c)
		}
		if rec.ASN != 0 && info.network == "unknown" {
			org := rec.Org
			if len(org) > 64 {
				org = org[:64]
			}
			info.network = "AS" + strconv.FormatUint(uint64(rec.ASN), 10)
			if org != "" {
				info.network += " " + boundedIssuer(org)
			}
		}
	}
	return info
}

// geoOf returns the cached answer for a client address (per worker,
// bounded: cleared when full).
func (t *trie) geoOf(a netip.Addr) geoInfo {
	if g, ok := t.geoCache[a]; ok {
		return g
	}
	g := t.geo.lookup(a)
	if len(t.geoCache) >= 65536 {
		clear(t.geoCache)
	}
	t.geoCache[a] = g
	return g
}
