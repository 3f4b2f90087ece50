package blocklist

import (
	"encoding/json"
	"testing"
)

// FuzzOutputs: whatever a blocklist event carries, every output holds only
// lines its target accepts, and nothing panics.
func FuzzOutputs(f *testing.F) {
	for _, v := range hostile[:40] {
		f.Add("ip", v, "block", "sqli")
	}
	f.Add("cidr", "45.1.0.0/24", "rate_limit", "scanner")
	f.Add("user", "alice\n", "would_block", "x\x00")
	f.Add("ip", "2a01::1", "block", "")
	f.Fuzz(func(t *testing.T, typ, value, action, reason string) {
		outputs := map[string]bool{}
		for _, n := range FormatNames {
			outputs[n] = Formats[n].Addresses
		}
		s := NewState(ConsumerGuard(), outputs)
		ev, _ := json.Marshal(map[string]any{"type": "blocklist", "actor": map[string]string{"type": typ, "value": value},
			"action": action, "reason": reason, "expires_at": "2099-01-01T00:00:00Z"})
		s.Apply(typ+":"+value, ev)
		s.Apply(typ+":"+value, []byte(value)) // a value that is not an event
		items, _ := s.Snapshot()
		raw := append(items, Item{Key: typ + ":" + value, Type: typ, Value: value, Action: action, Reason: reason})
		all := func(string) bool { return true }
		for _, name := range FormatNames {
			var rej Rejects
			checkOutput(t, name, Formats[name].Render(raw, all, &rej))
		}
	})
}
