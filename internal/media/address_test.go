package media

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr  string
		class addrClass
	}{
		{"8.8.8.8", classPublic},
		{"93.184.216.34", classPublic},
		{"2606:4700::1111", classPublic},
		{"127.0.0.1", classLoopback},
		{"127.255.255.254", classLoopback},
		{"::1", classLoopback},
		{"10.0.0.5", classPrivate},
		{"172.16.0.1", classPrivate},
		{"172.31.255.255", classPrivate},
		{"172.32.0.1", classPublic},
		{"192.168.1.1", classPrivate},
		{"fc00::1", classPrivate},
		{"fd12:3456::1", classPrivate},
		{"fec0::1", classPrivate},
		{"169.254.169.254", classLinkLocal},
		{"fe80::1", classLinkLocal},
		{"fe80::1%eth0", classLinkLocal},
		{"224.0.0.1", classMulticast},
		{"239.255.255.250", classMulticast},
		{"ff02::1", classMulticast},
		{"0.0.0.0", classUnspecified},
		{"0.1.2.3", classUnspecified},
		{"::", classUnspecified},
		{"100.64.0.1", classSharedNAT},
		{"100.127.255.255", classSharedNAT},
		{"100.128.0.1", classPublic},
		{"255.255.255.255", classBroadcast},
		{"240.0.0.1", classReserved},
		{"192.0.2.1", classReserved},
		{"198.18.0.1", classReserved},
		{"2001:db8::1", classReserved},
		// IPv4 carried in IPv6 is judged by the IPv4 address.
		{"::ffff:127.0.0.1", classLoopback},
		{"::ffff:10.0.0.1", classPrivate},
		{"::ffff:169.254.169.254", classLinkLocal},
		{"::ffff:8.8.8.8", classPublic},
		{"::127.0.0.1", classLoopback},
		{"::10.1.2.3", classPrivate},
		{"64:ff9b::7f00:1", classLoopback},
		{"64:ff9b::a9fe:a9fe", classLinkLocal},
		{"2002:7f00:1::1", classLoopback},
		{"2002:0808:0808::1", classPublic},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, _ := classify(netip.MustParseAddr(tt.addr))
			if got != tt.class {
				t.Fatalf("classify(%s) = %q, want %q", tt.addr, got, tt.class)
			}
		})
	}
}

func TestHostIP(t *testing.T) {
	tests := []struct {
		host    string
		want    string // "" = a name
		invalid bool
	}{
		{host: "example.com"},
		{host: "cafe.be"},
		{host: "1.2.3.example"},
		{host: "127.0.0.1", want: "127.0.0.1"},
		{host: "127.0.0.1.", want: "127.0.0.1"},
		{host: "2130706433", want: "127.0.0.1"},
		{host: "0x7f000001", want: "127.0.0.1"},
		{host: "0X7F.1", want: "127.0.0.1"},
		{host: "0177.0.0.1", want: "127.0.0.1"},
		{host: "017700000001", want: "127.0.0.1"},
		{host: "127.1", want: "127.0.0.1"},
		{host: "10.1", want: "10.0.0.1"},
		{host: "192.168.257", want: "192.168.1.1"},
		{host: "0", want: "0.0.0.0"},
		{host: "::ffff:127.0.0.1", want: "::ffff:127.0.0.1"},
		{host: "::1", want: "::1"},
		{host: "256.0.0.1", invalid: true},
		{host: "1.2.3.4.5", invalid: true},
		{host: "08.0.0.1", invalid: true},
		{host: "4294967296", invalid: true},
		{host: "1..1", invalid: true},
		{host: "example.0x1", invalid: true},
		{host: "::gg", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			a, ok, err := hostIP(tt.host)
			var me *Error
			switch {
			case tt.invalid:
				if err == nil || !errors.As(err, &me) || me.Code != CodeInvalidURL {
					t.Fatalf("hostIP(%q) = %v, %v, %v; want invalid_url", tt.host, a, ok, err)
				}
			case tt.want == "":
				if ok || err != nil {
					t.Fatalf("hostIP(%q) = %v, %v, %v; want a name", tt.host, a, ok, err)
				}
			default:
				if !ok || err != nil || a.String() != tt.want {
					t.Fatalf("hostIP(%q) = %v, %v, %v; want %s", tt.host, a, ok, err, tt.want)
				}
			}
		})
	}
}

func TestCheckAddrMessages(t *testing.T) {
	tests := []struct {
		name, host, addr string
		allowPrivate     bool
		want             []string // substrings of the message; nil = allowed
		notWant          string
	}{
		{name: "public", host: "8.8.8.8", addr: "8.8.8.8"},
		{name: "literal private", host: "10.0.0.5", addr: "10.0.0.5",
			want: []string{"10.0.0.5 is a private address", "QWENRELAY_ALLOW_PRIVATE_MEDIA_URLS=true"}},
		{name: "name private hides the address", host: "intranet.test", addr: "10.0.0.5",
			want: []string{`"intranet.test" resolves to a private address`, "QWENRELAY_ALLOW_PRIVATE_MEDIA_URLS"}, notWant: "10.0.0.5"},
		{name: "mapped loopback", host: "::ffff:127.0.0.1", addr: "::ffff:127.0.0.1",
			want: []string{"loopback", "carries the IPv4 address 127.0.0.1"}},
		{name: "metadata", host: "169.254.169.254", addr: "169.254.169.254", want: []string{"a link-local address"}},
		{name: "unspecified has no hint", host: "0.0.0.0", addr: "0.0.0.0",
			want: []string{"an unspecified address"}, notWant: "QWENRELAY"},
		{name: "allow private lifts private", host: "10.0.0.5", addr: "10.0.0.5", allowPrivate: true},
		{name: "allow private lifts loopback", host: "::1", addr: "::1", allowPrivate: true},
		{name: "allow private keeps multicast", host: "224.0.0.1", addr: "224.0.0.1", allowPrivate: true,
			want: []string{"a multicast address"}},
		{name: "allow private keeps unspecified", host: "::", addr: "::", allowPrivate: true,
			want: []string{"unspecified"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &guard{allowPrivate: tt.allowPrivate}
			err := g.checkAddr(tt.host, netip.MustParseAddr(tt.addr))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var me *Error
			if !errors.As(err, &me) || me.Code != CodeBlockedAddress {
				t.Fatalf("err = %v, want blocked_address", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(me.Message, w) {
					t.Errorf("message %q lacks %q", me.Message, w)
				}
			}
			if tt.notWant != "" && strings.Contains(me.Message, tt.notWant) {
				t.Errorf("message %q contains %q", me.Message, tt.notWant)
			}
		})
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		code Code
		want int
	}{
		{CodeBlockedAddress, 400}, {CodeFetchFailed, 400}, {CodeTimeout, 400}, {CodeInvalidDataURI, 400},
		{CodeUnsupportedType, 400}, {CodeTooLarge, 413}, {CodeCanceled, 499},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := (&Error{Code: tt.code}).HTTPStatus(); got != tt.want {
				t.Fatalf("HTTPStatus() = %d, want %d", got, tt.want)
			}
		})
	}
}
