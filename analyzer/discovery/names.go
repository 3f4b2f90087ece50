package discovery

import "strings"

// maxNames bounds the names a catalog interns (header names, content
// types, property and parameter names, auth names, origins); names past
// it are counted as "(other)" where an id is needed, and copied where a
// string is.
const maxNames = 1 << 16

// names interns the names the catalog keeps: each is stored once however
// many endpoints use it, and endpoints count names by a small id.
type names struct {
	ids  map[string]uint32
	list []string // id -> name; id 0 is "(other)"
}

func newNames() *names {
	return &names{ids: map[string]uint32{}, list: []string{"(other)"}}
}

// id returns the id of s, adding it while there is room (0 otherwise).
func (n *names) id(s string) uint32 {
	if id, ok := n.ids[s]; ok {
		return id
	}
	if len(n.list) >= maxNames {
		return 0
	}
	c := strings.Clone(s)
	id := uint32(len(n.list))
	n.ids[c] = id
	n.list = append(n.list, c)
	return id
}

// name returns the name of an id.
func (n *names) name(id uint32) string {
	if int(id) < len(n.list) {
		return n.list[id]
	}
	return "(other)"
}

// intern returns the stored copy of s (a new copy when the table is full
// or n is nil).
func (n *names) intern(s string) string {
	if n == nil {
		return strings.Clone(s)
	}
	if id, ok := n.ids[s]; ok {
		return n.list[id]
	}
	if id := n.id(s); id != 0 {
		return n.list[id]
	}
	return strings.Clone(s)
}

// internBytes is intern for bytes from a body (no copy on a hit).
func (n *names) internBytes(b []byte) string {
	if n == nil {
		return string(b)
	}
	if id, ok := n.ids[string(b)]; ok {
		return n.list[id]
	}
	return n.intern(string(b))
}
