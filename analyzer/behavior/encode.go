package behavior

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

// ActorJSON is the actor event (docs/schema/actor.schema.json).
type ActorJSON struct {
	Schema     string            `json:"schema"`
	Type       string            `json:"type"`
	Time       string            `json:"time"`
	Sensor     string            `json:"sensor"`
	Actor      map[string]string `json:"actor"`
	Kind       string            `json:"kind"`
	Client     string            `json:"client,omitempty"`
	Score      float64           `json:"score"`
	Stage      string            `json:"stage"`
	Identities []Identity        `json:"identities"`
	Requests   uint64            `json:"requests"`
	FirstSeen  string            `json:"first_seen"`
	LastSeen   string            `json:"last_seen"`
	Detections map[string]uint32 `json:"detections,omitempty"`
}

// Identity is one identity linked to an actor.
type Identity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// JSON is the actor event for a at time t.
func (a *Actor) JSON(sensor string, t time.Time) *ActorJSON {
	j := &ActorJSON{Schema: event.SchemaVersion, Type: "actor", Time: t.UTC().Format(time.RFC3339Nano), Sensor: sensor,
		Actor: map[string]string{}, Kind: a.Kind, Client: a.Client, Score: a.Score, Stage: a.Stage, Requests: a.Requests,
		FirstSeen: a.First.Format(time.RFC3339Nano), LastSeen: a.Last.Format(time.RFC3339Nano), Detections: a.Detections, Identities: []Identity{}}
	for _, f := range [...]struct{ k, v string }{{"ip", a.Actor.IP}, {"user", a.Actor.User}, {"session", a.Actor.Session}, {"api_key", a.Actor.APIKey}, {"fingerprint", a.Actor.Fingerprint}} {
		if f.v != "" {
			j.Actor[f.k] = f.v
		}
	}
	for _, l := range [...]struct {
		typ  string
		vals []string
	}{{"user", a.Users}, {"ip", a.IPs}, {"session", a.Sessions}, {"fingerprint", a.Prints}, {"sni", a.SNIs}} {
		for _, v := range l.vals {
			j.Identities = append(j.Identities, Identity{l.typ, v})
		}
	}
	return j
}

func encodeActor(a *Actor, sensor string, t time.Time) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a.JSON(sensor, t)); err != nil {
		panic("behavior: encode: " + err.Error()) // strings, numbers and maps only
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
