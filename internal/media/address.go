package media

import (
	"net/netip"
	"strconv"
	"strings"
)

// addrClass names why an address is refused; "" means public unicast.
type addrClass string

const (
	classPublic      addrClass = ""
	classLoopback    addrClass = "loopback"
	classPrivate     addrClass = "private"
	classLinkLocal   addrClass = "link-local"
	classSharedNAT   addrClass = "carrier-grade NAT (shared)"
	classReserved    addrClass = "reserved"
	classMulticast   addrClass = "multicast"
	classUnspecified addrClass = "unspecified"
	classBroadcast   addrClass = "broadcast"
)

// liftedByAllowPrivate reports whether AllowPrivate opens this class. A LAN
// setup may want loopback, private or link-local hosts; multicast, broadcast
// and unspecified addresses are never the address of one host, so they stay
// refused.
func (c addrClass) liftedByAllowPrivate() bool {
	switch c {
	case classMulticast, classUnspecified, classBroadcast:
		return false
	}
	return true
}

// classify returns the class of a. IPv4 addresses carried inside IPv6
// (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96
// and 6to4 2002::/16) are judged by the IPv4 address they carry, so
// [::ffff:127.0.0.1] is loopback. inner is that IPv4 address, if any.
func classify(a netip.Addr) (class addrClass, inner netip.Addr) {
	a = a.WithZone("")
	if v4, ok := embeddedIPv4(a); ok {
		return classifyPlain(v4), v4
	}
	return classifyPlain(a), netip.Addr{}
}

func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	if a.Is4In6() {
		return a.Unmap(), true
	}
	b := a.As16()
	var zero [12]byte
	switch {
	case [12]byte(b[:12]) == zero: // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 excluded
		if a.IsUnspecified() || a.IsLoopback() {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4([4]byte(b[12:])), true
	case prefix6(0x0064, 0xff9b, 96).Contains(a): // NAT64 well-known prefix
		return netip.AddrFrom4([4]byte(b[12:])), true
	case b[0] == 0x20 && b[1] == 0x02: // 6to4: 2002:AABB:CCDD::/48
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

func classifyPlain(a netip.Addr) addrClass {
	switch {
	case a.IsUnspecified():
		return classUnspecified
	case a.IsLoopback():
		return classLoopback
	case a.IsPrivate(): // 10/8, 172.16/12, 192.168/16, fc00::/7
		return classPrivate
	case a.IsLinkLocalUnicast(): // 169.254/16 (cloud metadata), fe80::/10
		return classLinkLocal
	case a.IsMulticast():
		return classMulticast
	}
	if a.Is4() {
		return classifyIPv4(a)
	}
	switch {
	case prefix6(0xfec0, 0, 10).Contains(a): // deprecated site-local
		return classPrivate
	case prefix6(0x0100, 0, 64).Contains(a), // discard-only
		prefix6(0x2001, 0x0db8, 32).Contains(a), // documentation
		prefix6(0x2001, 0, 32).Contains(a):      // Teredo (obfuscated IPv4 inside)
		return classReserved
	}
	return classPublic
}

func classifyIPv4(a netip.Addr) addrClass {
	b := a.As4()
	switch {
	case b == [4]byte{255, 255, 255, 255}:
		return classBroadcast
	case b[0] == 0: // "this network" 0/8
		return classUnspecified
	case b[0] == 100 && b[1]&0xc0 == 64: // 100.64/10
		return classSharedNAT
	case b[0] >= 240, // 240/4 reserved
		b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2), // 192.0.0/24, 192.0.2/24
		b[0] == 198 && b[1]&0xfe == 18,                       // 198.18/15 benchmarking
		b[0] == 198 && b[1] == 51 && b[2] == 100,             // 198.51.100/24
		b[0] == 203 && b[1] == 0 && b[2] == 113:              // 203.0.113/24
		return classReserved
	}
	return classPublic
}

func prefix6(hi, next uint16, bits int) netip.Prefix {
	var b [16]byte
	b[0], b[1], b[2], b[3] = byte(hi>>8), byte(hi), byte(next>>8), byte(next)
	return netip.PrefixFrom(netip.AddrFrom16(b), bits)
}

// hostIP interprets a URL host (as returned by url.URL.Hostname) the way a
// browser does (WHATWG URL host parsing): an IPv6 literal, or an IPv4 address
// in any of the forms inet_aton accepts (2130706433, 0x7f.1, 0177.0.0.1, …).
// A host whose last label is a number but is not a valid IPv4 address is
// invalid. ok is false for a plain domain name.
func hostIP(host string) (addr netip.Addr, ok bool, err error) {
	if strings.Contains(host, ":") {
		a, perr := netip.ParseAddr(host)
		if perr != nil {
			return netip.Addr{}, false, errorf(CodeInvalidURL, perr, "media URL host %q is not a valid IPv6 address", host)
		}
		return a, true, nil
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if !isNumberLabel(labels[len(labels)-1]) {
		return netip.Addr{}, false, nil
	}
	a, perr := parseIPv4Loose(labels)
	if perr != nil {
		return netip.Addr{}, false, errorf(CodeInvalidURL, perr, "media URL host %q is not a valid IPv4 address", host)
	}
	return a, true, nil
}

func isNumberLabel(s string) bool {
	if s == "" {
		return false
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for _, c := range s[2:] {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
		return true
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseIPv4Loose parses 1–4 numeric parts (decimal, 0x hex, 0-prefixed
// octal); the last part fills the remaining bytes.
func parseIPv4Loose(labels []string) (netip.Addr, error) {
	if len(labels) > 4 {
		return netip.Addr{}, strconv.ErrSyntax
	}
	var v uint64
	for i, l := range labels {
		n, err := parseIPv4Part(l)
		if err != nil {
			return netip.Addr{}, err
		}
		last := i == len(labels)-1
		if !last && n > 255 || last && n >= 1<<(8*(5-len(labels))) {
			return netip.Addr{}, strconv.ErrRange
		}
		if last {
			v = v<<(8*(5-len(labels))) | n
		} else {
			v = v<<8 | n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

func parseIPv4Part(s string) (uint64, error) {
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
		if s == "" {
			return 0, nil
		}
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(s, base, 32)
}
