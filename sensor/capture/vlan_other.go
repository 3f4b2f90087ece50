//go:build !linux

package capture

import "github.com/gopacket/gopacket"

// VLANOf reports a VLAN id the kernel took out of the frame; only Linux
// AF_PACKET sources report one.
func VLANOf(*gopacket.CaptureInfo) (uint16, bool) { return 0, false }
