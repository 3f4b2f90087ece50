// Package identity resolves who sent a request, once per transaction, for
// every analyzer: the client address behind trusted proxies (this file).
// The sensor calls Resolver.Client in stage one before the analyzers run
// and stores the answer in reassembly.Transaction.ClientIP, so that attack,
// sensitive, conformance and behaviour detections and the blocklist all
// name the same client; the packet source stays in the event as the peer.
// It also reads the request's credentials once (auth.go, Parser.Auth into
// reassembly.Transaction.Auth): the Authorization scheme, a JWT's
// subject, client and whether it was issued to a service, the first API
// key header (one list, APIKeyHeaders) and the first session cookie (one
// rule, IsSessionCookie), with one set of rules for every analyzer
// (behaviour reads its principals and sessions from it; the sensitive
// analyzer keys the actors whose first responses it scans on it; the
// catalog names its authentication schemes by it).
//
// Concurrency: a Resolver is read-only after New and safe for concurrent
// use.
package identity

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Resolver finds the client of a request.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver believing X-Forwarded-For, Forwarded and
// X-Real-IP only from the given proxies (CIDRs or addresses).
func New(trustedProxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, p := range trustedProxies {
		pr, err := ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		r.trusted = append(r.trusted, pr)
	}
	return r, nil
}

// ParsePrefix parses a CIDR or a single address (zone dropped).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("neither an address nor a CIDR")
	}
	a = Normalize(a)
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Normalize drops an address's zone and IPv4-in-IPv6 mapping: a zone is
// text anyone can write (fe80::1%x;allow all) and must never reach a
// decision or an output.
func Normalize(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// Trusted says whether a is one of the trusted proxies.
func (r *Resolver) Trusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// HasProxies says whether any proxy is trusted.
func (r *Resolver) HasProxies() bool { return r != nil && len(r.trusted) > 0 }

// Client is the request's client: the packet source, or, when the packet
// comes from a trusted proxy, the right-most address of X-Forwarded-For
// (else Forwarded's for=) that is not itself a trusted proxy, or
// X-Real-IP. An unparsable forwarded value leaves the packet source.
func (r *Resolver) Client(tx *reassembly.Transaction) netip.Addr {
	src := Normalize(tx.Flow.Client.Addr())
	if !r.HasProxies() || tx.Request == nil || !r.Trusted(src) {
		return src
	}
	var xff, fwd, realIP string
	for i := range tx.Request.Headers {
		h := &tx.Request.Headers[i]
		switch h.Known() {
		case http1.IDXForwardedFor:
			if xff == "" {
				xff = h.Value
			} else {
				xff += "," + h.Value // repeated headers are one list
			}
		case http1.IDForwarded:
			if fwd == "" {
				fwd = h.Value
			} else {
				fwd += "," + h.Value
			}
		case http1.IDXRealIP:
			realIP = h.Value
		}
	}
	if a, ok := r.Forwarded(xff, fwd, realIP); ok {
		return a
	}
	return src
}

// Forwarded is the first address, from the right, of the forwarding chain
// (X-Forwarded-For, or Forwarded's for= parameters) that is not a trusted
// proxy; failing that, X-Real-IP.
func (r *Resolver) Forwarded(xff, fwd, realIP string) (netip.Addr, bool) {
	list := xff
	if list == "" && fwd != "" {
		var b strings.Builder
		for _, el := range strings.Split(fwd, ",") {
			for _, kv := range strings.Split(el, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if ok && strings.EqualFold(k, "for") {
					v = strings.Trim(v, `"`)
					if strings.HasPrefix(v, "[") {
						if end := strings.IndexByte(v, ']'); end > 0 {
							v = v[1:end]
						}
					} else if ap, err := netip.ParseAddrPort(v); err == nil {
						v = ap.Addr().String()
					}
					b.WriteString(v + ",")
				}
			}
		}
		list = b.String()
	}
	for list != "" {
		i := strings.LastIndexByte(list, ',')
		item := strings.TrimSpace(list[i+1:])
		list = list[:max(i, 0)]
		if item == "" {
			if i < 0 {
				break
			}
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			if ap, perr := netip.ParseAddrPort(item); perr == nil { // 203.0.113.7:4711
				a, err = ap.Addr(), nil
			}
		}
		if err != nil {
			return netip.Addr{}, false
		}
		a = Normalize(a)
		if !r.Trusted(a) {
			return a, true
		}
		if i < 0 {
			break
		}
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(realIP)); err == nil {
		return Normalize(a), true
	}
	return netip.Addr{}, false
}
