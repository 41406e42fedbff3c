package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// allowPrivateHint tells an operator how to lift the address rule; the
// relay maps this setting to Fetcher.AllowPrivate.
const allowPrivateHint = "; set QWENRELAY_ALLOW_PRIVATE_MEDIA_URLS=true to allow LAN media"

// guard resolves and checks every address before it is dialed.
type guard struct {
	allowPrivate bool
	lookup       func(ctx context.Context, host string) ([]netip.Addr, error)
	dial         func(ctx context.Context, network, address string) (net.Conn, error)
}

// checkAddr applies the address rule to one address. host is what the URL
// named: for a domain name the resolved address stays out of the message
// (it would let a client map internal DNS) and goes to the cause only.
func (g *guard) checkAddr(host string, a netip.Addr) error {
	class, inner := classify(a)
	if class == classPublic || g.allowPrivate && class.liftedByAllowPrivate() {
		return nil
	}
	hint := ""
	if class.liftedByAllowPrivate() {
		hint = allowPrivateHint
	}
	article := "a"
	if strings.ContainsRune("aeiou", rune(class[0])) {
		article = "an"
	}
	cause := fmt.Errorf("address %s (class %s) refused", a, class)
	if _, isLiteral, _ := hostIP(host); !isLiteral {
		return errorf(CodeBlockedAddress, cause, "media URL host %q resolves to %s %s address%s", host, article, class, hint)
	}
	carried := ""
	if inner.IsValid() {
		carried = fmt.Sprintf(" (it carries the IPv4 address %s)", inner)
	}
	return errorf(CodeBlockedAddress, cause, "media URL host %s is %s %s address%s%s", a, article, class, carried, hint)
}

// resolve returns the addresses host stands for: an IP literal in any form
// hostIP accepts, the loopback addresses for "localhost" and "*.localhost"
// (RFC 6761, without asking DNS), or the resolver's answer.
func (g *guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	a, ok, err := hostIP(host)
	if err != nil {
		return nil, err
	}
	if ok {
		return []netip.Addr{a}, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}, nil
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errorf(CodeFetchFailed, err, "media URL host %q could not be resolved", host)
	}
	if len(addrs) == 0 {
		return nil, errorf(CodeFetchFailed, nil, "media URL host %q has no address", host)
	}
	return addrs, nil
}

// DialContext is the transport's only way out: it resolves the host, refuses
// the connection if ANY resolved address breaks the rule (so a name that
// answers with one public and one private address cannot be raced), and then
// dials the checked addresses by number, never by name, so a second DNS
// answer (rebinding) cannot change what is dialed.
func (g *guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, errorf(CodeInvalidURL, err, "media URL address is malformed")
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := g.checkAddr(host, a); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := g.dial(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errorf(CodeFetchFailed, errors.Join(errs...), "media URL host %q could not be reached", host)
}

// control re-checks the socket address right before connect(2): a last line
// in case anything between the resolver and the socket ever changes.
func (g *guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errorf(CodeBlockedAddress, err, "media URL address could not be checked")
	}
	return g.checkAddr(ap.Addr().String(), ap.Addr())
}

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
