package signature

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

const (
	armorBegin = "-----BEGIN PGP SIGNATURE-----"
	armorEnd   = "-----END PGP SIGNATURE-----"
)

// armorHeaders are the header keys RFC 4880 §6.2 defines; a canonical
// block carries no other.
var armorHeaders = map[string]bool{"Version": true, "Comment": true, "Hash": true, "Charset": true, "MessageID": true}

// canonical returns raw when it is one canonical armored block holding
// exactly the verified first packet of pkts, else that packet armored anew
// (as go-crypto, hence elastic-package, writes it, with a final newline).
// Keeping canonical input byte for byte keeps what EPR serves for
// signatures elastic-package or gpg made.
func canonical(raw, pkts []byte) ([]byte, error) {
	first := pkts
	if n, ok := packetLen(pkts); ok {
		first = pkts[:n]
	}
	if isCanonical(raw, first) {
		return raw, nil
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.SignatureType, nil)
	if err != nil {
		return nil, fmt.Errorf("armor signature: %w", err)
	}
	if _, err := w.Write(first); err != nil {
		return nil, fmt.Errorf("armor signature: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("armor signature: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// isCanonical reports whether raw is exactly: the BEGIN line, standard
// headers of printable ASCII (no '<', '>' or '&'), an empty line, base64
// lines of at most 76 characters encoding exactly pkt, an optional
// checksum line that matches, the END line and at most one "\n".
func isCanonical(raw, pkt []byte) bool {
	s := string(raw)
	next := func() (string, bool) {
		line, rest, ok := cutLine(s)
		s = rest
		return line, ok
	}
	if line, ok := next(); !ok || line != armorBegin {
		return false
	}
	for {
		line, ok := next()
		if !ok || len(line) > 256 {
			return false
		}
		if line == "" {
			break
		}
		k, v, found := cutHeader(line)
		if !found || !armorHeaders[k] || !headerValue(v) {
			return false
		}
	}
	var body []byte
	sum := ""
	for {
		line, ok := next()
		if line == armorEnd {
			if s != "" {
				return false
			}
			break
		}
		if !ok || sum != "" {
			return false // nothing but the END line after the checksum
		}
		if len(line) == 5 && line[0] == '=' {
			sum = line[1:]
			continue
		}
		if line == "" || len(line) > 76 || !base64Line(line) {
			return false
		}
		body = append(body, line...)
	}
	dec, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil || !bytes.Equal(dec, pkt) {
		return false
	}
	if sum != "" {
		c := crc24(dec)
		want := base64.StdEncoding.EncodeToString([]byte{byte(c >> 16), byte(c >> 8), byte(c)})
		if sum != want {
			return false
		}
	}
	return true
}

// cutLine cuts s at its first "\n"; ok is false when there is none (the
// last line, returned whole).
func cutLine(s string) (line, rest string, ok bool) {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func cutHeader(line string) (key, value string, ok bool) {
	i := bytes.Index([]byte(line), []byte(": "))
	if i <= 0 {
		return "", "", false
	}
	return line[:i], line[i+2:], true
}

func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func base64Line(line string) bool {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// crc24 is RFC 4880 §6.1's armor checksum.
func crc24(d []byte) uint32 {
	const init, poly = 0xb704ce, 0x1864cfb
	crc := uint32(init)
	for _, b := range d {
		crc ^= uint32(b) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= poly
			}
		}
	}
	return crc & 0xffffff
}

// packetLen is the length of the first OpenPGP packet of b, header
// included (RFC 4880 §4.2); ok is false for a partial or indeterminate
// length, or a packet longer than b.
func packetLen(b []byte) (n int, ok bool) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return 0, false
	}
	var hdr, body int
	if b[0]&0x40 != 0 { // new format
		switch l := int(b[1]); {
		case l < 192:
			hdr, body = 2, l
		case l < 224:
			if len(b) < 3 {
				return 0, false
			}
			hdr, body = 3, (l-192)<<8+int(b[2])+192
		case l == 255:
			if len(b) < 6 {
				return 0, false
			}
			hdr, body = 6, int(b[2])<<24|int(b[3])<<16|int(b[4])<<8|int(b[5])
		default:
			return 0, false // partial body length
		}
	} else { // old format
		switch b[0] & 3 {
		case 0:
			hdr, body = 2, int(b[1])
		case 1:
			if len(b) < 3 {
				return 0, false
			}
			hdr, body = 3, int(b[1])<<8|int(b[2])
		case 2:
			if len(b) < 5 {
				return 0, false
			}
			hdr, body = 5, int(b[1])<<24|int(b[2])<<16|int(b[3])<<8|int(b[4])
		default:
			return 0, false
		}
	}
	if body < 0 || hdr+body > len(b) {
		return 0, false
	}
	return hdr + body, true
}
