package reassembly

import (
	"net/netip"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
)

// Tunnel is the outer envelope a flow arrived in (mirror traffic).
type Tunnel struct {
	Type     string // "", "vxlan", "geneve", "gre", "erspan2", "erspan3"
	OuterSrc netip.Addr
	OuterDst netip.Addr
	ID       uint32 // VNI, GRE key or ERSPAN session id
}

// Flow identifies the TCP connection a transaction travelled on.
type Flow struct {
	// ID is a stable hash of the connection (5-tuple, tunnel and the
	// capture time of its first packet), hex encoded.
	ID     string
	Client netip.AddrPort
	Server netip.AddrPort
	VLAN   []uint16 // outer first; nil when untagged
	Tunnel Tunnel
	// Order is the capture order of the connection's first packet
	// (Packet.Order): the sensor orders what flows report by it.
	Order uint64
	// Confirmed says the server side has answered on this connection: it
	// sent payload bytes after the client did (a reply that a spoofed,
	// off-path source never gets). Evidence for enforcement only comes from
	// confirmed flows. Handshake says the three-way handshake was seen.
	Confirmed bool
	Handshake bool
	// State is what stage-one analyzers remember about this connection
	// between its transactions (a connection always reaches the same
	// worker, so per-flow state does not depend on the worker count). It
	// belongs to the connection's worker: stage-two analyzers, which see
	// copies later, must not use it (it is nil in their copies).
	State *FlowState
}

// FlowState is per-connection state of the stage-one analyzers, reset when
// a connection starts.
type FlowState struct {
	// MessageTypes are the sensitive types the last scanned WebSocket
	// message from the server held (the sensitive analyzer's estimate for
	// the messages it does not scan).
	MessageTypes uint64
	// DeepSec and DeepN: the attack analyzer's deep checks of this
	// connection in the capture second DeepSec (its per-connection budget).
	DeepSec int64
	DeepN   int32
}

// Transaction is one HTTP exchange with the flow it belongs to. It is handed
// to analyzers synchronously and reused afterwards: an analyzer must not keep
// it (strings inside may be kept; byte slices must be copied).
type Transaction struct {
	Flow Flow
	// Seq numbers the transactions of one connection from 0.
	Seq int
	// ClientIP is the client the sensor resolved for this request: the
	// packet source, or the address a trusted proxy forwarded for it. The
	// sensor sets it before the analyzers run; use ClientAddr, which falls
	// back to the packet source when it is not set.
	ClientIP netip.Addr
	// Auth is what the request's Authorization header says, parsed once
	// by the sensor for every analyzer (package analyzer/identity).
	Auth Auth
	http1.Exchange
	// Source is where the exchange was read in clear; TLS describes the
	// TLS session it was read from (nil for clear text on the wire).
	Source Source
	TLS    *TLSInfo
	// Protocol is how the exchange travelled; H2 is its HTTP/2 stream
	// (id, reset/refused/push flags, trailers, the gRPC call), nil for
	// HTTP/1.x.
	Protocol Protocol
	H2       *http2.StreamInfo
	// Notes carry what analyzers learned about this transaction to the
	// analyzers after them in the chain; the sensor clears them before the
	// chain runs.
	Notes Notes
	// Message is set when the transaction is a WebSocket message (ws.go):
	// the client's message is the request body, the server's the
	// response body. Only analyzers that take messages see these
	// (analyzer.MessageAnalyzer).
	Message *Message
}

// Auth kinds (Auth.Kind).
const (
	AuthBasic     = "basic"
	AuthBearerJWT = "bearer_jwt"
	AuthBearer    = "bearer" // an opaque token
	AuthOther     = "other"
)

// Auth is a request's credentials as read once per transaction: the
// scheme of its Authorization header, the principal it names (a JWT's
// subject, else its client id or authorized party; a Basic user name)
// and, for opaque tokens and other schemes, the credential itself (raw:
// for keying actors, never exported). A JWT's algorithm and issuer come
// along, and whether it was issued to a service (a client-credentials
// grant) rather than a person.
type Auth struct {
	Kind        string
	Principal   string
	Credential  string
	JWTAlg      string
	JWTIssuer   string
	JWTUnsigned bool
	JWTService  bool
	// APIKey is the value of the request's first API key header
	// (identity.APIKeyHeaders: X-API-Key, Api-Key, ...), raw: for keying
	// actors, never exported.
	APIKey string
	// SessionCookie and Session are the name and value of the request's
	// first session cookie (identity.IsSessionCookie), the value raw: for
	// keying actors, never exported.
	SessionCookie, Session string
	// Parsed says identity.Parser.Auth read the request (the sensor does
	// for every transaction); analyzers handed a transaction without it
	// (tests, tools) read the headers themselves, with the same rules.
	Parsed bool
}

// ClientAddr is the resolved client (ClientIP), or the packet source when
// none was resolved. It has no zone and no IPv4-in-IPv6 mapping.
func (t *Transaction) ClientAddr() netip.Addr {
	if t.ClientIP.IsValid() {
		return t.ClientIP
	}
	return t.Flow.Client.Addr().Unmap().WithZone("")
}

// PeerAddr is the packet source when the client was resolved through a
// proxy (it differs from ClientAddr), the invalid address otherwise.
func (t *Transaction) PeerAddr() netip.Addr {
	if !t.ClientIP.IsValid() {
		return netip.Addr{}
	}
	if p := t.Flow.Client.Addr().Unmap().WithZone(""); p != t.ClientIP {
		return p
	}
	return netip.Addr{}
}

// Notes are per-transaction findings shared along the analyzer chain.
type Notes struct {
	// SensitiveRequest and SensitiveResponse are bit sets of the sensitive
	// data types found in each message: bit i is event.SensitiveTypes[i]
	// (set by the sensitive analyzer, read by discovery for the catalog).
	SensitiveRequest, SensitiveResponse uint64
	// SensitiveInferred estimates SensitiveResponse for a response body
	// the analyzer did not scan (ResponseScanned false): what the last
	// scanned response of the same endpoint held (the sensitive
	// analyzer's stage-two part learns it per endpoint, in capture
	// order). Counts per endpoint and per actor add it, so they do not
	// shrink with the sample; attributions to one operation or one
	// response (GraphQL) must not.
	SensitiveInferred uint64
	// ResponseScanned says the sensitive analyzer scanned the response
	// body (it scans a deterministic sample of responses; discovery
	// reports the coverage per endpoint).
	ResponseScanned bool
	// Authenticated says the request carried credentials in a header or
	// a cookie (set by the sensitive analyzer in stage one; its stage-two
	// part reads it: personal data returned to a caller without
	// credentials is a finding).
	Authenticated bool
	// Conformance is how the transaction matched the published specs
	// (set by the conformance analyzer; "" without specs): documented,
	// shadow, zombie or undocumented_method. Violations are bits of
	// conformance findings (undocumented parameter, status, schema).
	Conformance string
	Violations  uint8
	// Attacks are bits of the attack classes detected in the request
	// (attack analyzer; bit i is attack.ClassNames[i]), AttackSucceeded
	// when the response showed one worked.
	Attacks         uint32
	AttackSucceeded bool
	// Misconfig are bits of security misconfigurations in the response
	// (risk analyzer; bit i is risk.MisconfigNames[i]).
	Misconfig uint8
	// Abuse are bits of the behaviour classes its actor was detected for
	// in the current window (behavior analyzer; bit i is
	// behavior.ClassNames[i]).
	Abuse uint16
	// GraphQL is what the graphql analyzer read of a GraphQL request that
	// carried more than one operation or a login (nil otherwise). It is
	// allocated per transaction and not changed after stage one, so stage
	// two may read it.
	GraphQL *GraphQLNote
	// GraphQLOps identifies the operations of a GraphQL request (a hash of
	// their types, names and root fields; 0 when it is not one), set by
	// the graphql analyzer: analyzers that learn per endpoint tell a
	// GraphQL endpoint's operations apart by it.
	GraphQLOps uint64
}

// GraphQLNote is the graphql analyzer's verdict on one GraphQL request:
// what the detectors after it count (operations, logins) and what
// discovery attributes to each operation (sensitive types).
type GraphQLNote struct {
	// Operations is how many operations the request carried: the
	// elements of a batch, plus the repeats of a root field under other
	// aliases (the same field asked many times in one operation). The
	// rate detectors count these instead of one request.
	Operations int
	// Sensitive holds, for a batch whose response is an array with one
	// element per request of the batch, the sensitive types found in each
	// element (bits as SensitiveResponse; an operation's element is its
	// gqlreq.Operation.Index); nil otherwise.
	Sensitive []uint64
	// Logins are the login attempts the request made (mutation fields
	// named like a login with a password argument), one per batch element
	// and alias, in order, each with its outcome.
	Logins []GraphQLLogin
}

// GraphQLLogin is one login attempt inside a GraphQL request.
type GraphQLLogin struct {
	// User is the username tried (lower case, at most 128 bytes; raw:
	// for keying, never exported).
	User string
	// Failed: the response reported an error for this attempt, gave no
	// data for it, or a data value that says it failed.
	Failed bool
	// Answer is the class of a failure's answer (its error messages
	// without the username and digits), to tell known from unknown users
	// apart; 0 for successes.
	Answer uint64
}
