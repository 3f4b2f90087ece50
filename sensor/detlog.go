package sensor

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

// DetectionLog keeps what the report and the admin API show of the
// detections: the most recent ones, and counts by minute (capture time),
// class and severity. Bounded: MaxRecent detections and maxMinutes
// minutes (the oldest minutes go first).
type DetectionLog struct {
	mu      sync.Mutex
	recent  []event.Detection // ring
	next    int
	total   uint64
	minutes map[int64]*[5]uint64
	classes map[string]*[5]uint64
}

// MaxRecent is how many detections the log keeps whole.
const MaxRecent = 1000

const maxMinutes = 20000

// NewDetectionLog returns an empty log (every Pipeline has one).
func NewDetectionLog() *DetectionLog {
	return &DetectionLog{minutes: map[int64]*[5]uint64{}, classes: map[string]*[5]uint64{}}
}

// SeverityIndex ranks event.Severities (info 0 ... critical 4).
func SeverityIndex(s string) int {
	for i, v := range event.Severities {
		if v == s {
			return i
		}
	}
	return 0
}

// Add records one detection (goroutine-safe).
func (l *DetectionLog) Add(d *event.Detection) {
	sev := SeverityIndex(d.Severity)
	c := *d
	c.Evidence = slices.Clone(d.Evidence)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if len(l.recent) < MaxRecent {
		l.recent = append(l.recent, c)
	} else {
		l.recent[l.next] = c
		l.next = (l.next + 1) % MaxRecent
	}
	m := d.LastSeen.Unix() / 60
	b := l.minutes[m]
	if b == nil {
		if len(l.minutes) >= maxMinutes {
			oldest := m
			for k := range l.minutes {
				oldest = min(oldest, k)
			}
			if oldest == m {
				return // older than everything kept
			}
			delete(l.minutes, oldest)
		}
		b = &[5]uint64{}
		l.minutes[m] = b
	}
	b[sev]++
	if l.classes[d.Class] == nil {
		if len(l.classes) >= 256 {
			return
		}
		l.classes[d.Class] = &[5]uint64{}
	}
	l.classes[d.Class][sev]++
}

// Total is how many detections were added.
func (l *DetectionLog) Total() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Recent returns up to n of the most recent detections, most severe
// first, then latest first.
func (l *DetectionLog) Recent(n int) []event.Detection {
	l.mu.Lock()
	out := slices.Clone(l.recent)
	l.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if sa, sb := SeverityIndex(a.Severity), SeverityIndex(b.Severity); sa != sb {
			return sa > sb
		}
		if !a.LastSeen.Equal(b.LastSeen) {
			return a.LastSeen.After(b.LastSeen)
		}
		return a.ID < b.ID
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Minute is the detections of one minute of capture time, by severity
// (index as in event.Severities).
type Minute struct {
	Start time.Time
	N     [5]uint64
}

// Timeline returns the minutes with detections, oldest first.
func (l *DetectionLog) Timeline() []Minute {
	l.mu.Lock()
	out := make([]Minute, 0, len(l.minutes))
	for m, b := range l.minutes {
		out = append(out, Minute{Start: time.Unix(m*60, 0).UTC(), N: *b})
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// ClassCount is the detections of one class by severity.
type ClassCount struct {
	Class string
	N     [5]uint64
	Total uint64
}

// Classes returns the counts by class, most first.
func (l *DetectionLog) Classes() []ClassCount {
	l.mu.Lock()
	out := make([]ClassCount, 0, len(l.classes))
	for c, b := range l.classes {
		cc := ClassCount{Class: c, N: *b}
		for _, n := range b {
			cc.Total += n
		}
		out = append(out, cc)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Class < out[j].Class
	})
	return out
}
