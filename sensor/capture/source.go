package capture

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Source yields frames. Next returns io.EOF at the normal end; any other
// error ends the source (see IsTruncated and IsCorrupt for damaged files).
type Source interface {
	// Next returns the next frame; data is valid until the next call.
	Next() (data []byte, ci gopacket.CaptureInfo, err error)
	// LinkType is the link layer of the frames.
	LinkType() layers.LinkType
	// Name says where the frames come from (a path, "-" or an interface).
	Name() string
	Close() error
}

// ErrTruncated reports a capture file that ends inside a record.
var ErrTruncated = errors.New("capture file is truncated")

// ErrTimeout is returned by live sources when no packet arrived in time;
// the caller may advance its clock and call Next again.
var ErrTimeout = errors.New("no packet before the poll timeout")

// ErrCorrupt reports a capture file with an impossible record.
var ErrCorrupt = errors.New("capture file is corrupt")

// ErrNotSupported is returned (wrapped) by live sources on systems where
// they do not exist: AF_PACKET is Linux only. Capture files work everywhere.
var ErrNotSupported = errors.New("not supported on this system")
