package discovery

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeDB writes a small MaxMind database mapping each CIDR to a record.
func writeDB(t *testing.T, path, typ string, recs map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range recs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

// TestOrigins builds a country and an ASN database with mmdbwriter and
// checks the catalog counts calls by client country and network; without
// databases the field is absent.
func TestOrigins(t *testing.T) {
	dir := t.TempDir()
	country, asn := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	writeDB(t, country, "GeoLite2-Country", map[string]mmdbtype.Map{
		"192.0.2.0/24":    {"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}},
		"198.51.100.0/24": {"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("BR")}},
	})
	writeDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"192.0.2.0/24": {"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example Net")},
	})
	cfg := NewConfig()
	cfg.GeoIPDB, cfg.ASNDB = country, asn
	cat, err := OpenCatalog(cfg, "t")
	if err != nil {
		t.Fatal(err)
	}
	o := cat.Observer()
	for _, client := range []string{"192.0.2.1:1000", "192.0.2.9:1000", "198.51.100.7:1000", "203.0.113.5:1000"} {
		x := tx("GET", "api", "/a", 200)
		x.Flow.Client = mustAddrPort(client)
		o.Analyze(x, nil)
	}
	v := cat.View()
	j := v.Endpoints[0].JSON(v.Time)
	if j.Origins == nil || j.Origins.Countries["DE"] != 2 || j.Origins.Countries["BR"] != 1 || j.Origins.Countries["unknown"] != 1 ||
		j.Origins.Networks["AS64500 Example Net"] != 2 || j.Origins.Networks["unknown"] != 2 {
		t.Fatalf("origins %+v", j.Origins)
	}
	if _, err := OpenCatalog(&Config{GeoIPDB: filepath.Join(dir, "missing.mmdb")}, "t"); err == nil {
		t.Error("a missing database is not an error")
	}
	plain := NewCatalog(NewConfig(), "t")
	plain.Observer().Analyze(tx("GET", "api", "/a", 200), nil)
	pv := plain.View()
	if pv.Endpoints[0].JSON(pv.Time).Origins != nil {
		t.Error("origins without a database")
	}
}
