package tlsdecrypt

// Counter names a Stats counter.
type Counter uint8

// The counters of Stats.
const (
	CtrSessions     Counter = iota // TLS connections handed to decryption (their ClientHello was seen)
	CtrKeyed                       // sessions whose secrets were found in the key log
	CtrDecrypted                   // sessions with application data decrypted
	CtrNoKeys                      // sessions given up because the key log did not hold their secrets within KeyWait (or the bounds)
	CtrUnsupported                 // sessions of a version or cipher suite not decrypted (fingerprinted only)
	CtrLost                        // sessions given up after lost bytes (a gap in the handshake, or no record found again)
	CtrMalformed                   // sessions given up on records or handshake messages that break the rules
	CtrRecords                     // records decrypted
	CtrPlainBytes                  // application data bytes decrypted
	CtrAuthFailures                // records that failed authentication (a wrong key or sequence number, or corruption)
	CtrKeyWaits                    // sessions that waited for secrets written after their handshake
	CtrHeldGivenUp                 // records held while waiting for secrets and then given up
	CtrKeyUpdates                  // TLS 1.3 key updates followed
	CtrResyncs                     // directions that found their records again after a gap
	numCounters
)

// NumCounters is the number of counters.
const NumCounters = int(numCounters)

// CounterNames are the counters' names, as stats events and metrics write
// them.
var CounterNames = [numCounters]string{
	"sessions", "sessions_keyed", "sessions_decrypted", "sessions_no_keys", "sessions_unsupported",
	"sessions_lost", "sessions_malformed", "records", "plaintext_bytes", "auth_failures",
	"key_waits", "held_records_given_up", "key_updates", "resyncs",
}

func (c Counter) String() string {
	if c < numCounters {
		return CounterNames[c]
	}
	return "unknown"
}

// Stats count what the Conns of one owner (a reassembly worker) did; not
// safe for concurrent use.
type Stats struct {
	N [numCounters]uint64
}

// Add adds o to s.
func (s *Stats) Add(o *Stats) {
	for i := range s.N {
		s.N[i] += o.N[i]
	}
}
