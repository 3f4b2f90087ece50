package http1

// Content decoding for parsers that frame bodies themselves (HTTP/2, gRPC)
// but decode them as this package does: the same decoders, pools and
// bounds.

// ContentResult says how DecodeContent ended.
type ContentResult uint8

const (
	ContentOK        ContentResult = ContentResult(decodeOK)        // the whole body was decoded
	ContentTruncated ContentResult = ContentResult(decodeTruncated) // the output reached MaxBodyBytes, or raw was a cut prefix
	ContentBomb      ContentResult = ContentResult(decodeBomb)      // the output reached MaxDecodedRatio times the input
	ContentError     ContentResult = ContentResult(decodeError)     // corrupt data
	ContentUnknown   ContentResult = ContentResult(decodeUnknown)   // a coding this package does not decode
)

// NormEncoding returns the canonical name of the last coding of a
// Content-Encoding (or grpc-encoding) value: gzip, deflate, br, zstd, ""
// for identity, or the value itself when unknown.
func NormEncoding(v string) string { return normEncoding(lastListItem(v)) }

// DecodeContent decodes raw from the content coding enc (as NormEncoding
// names it) into dst[:0], writing at most lim.MaxBodyBytes bytes and at
// most lim.MaxDecodedRatio times len(raw). partial says raw is a prefix
// of the body (a kept part), so that running out of input is not an
// error. lim must have its defaults (Limits.WithDefaults).
func DecodeContent(dst, raw []byte, enc string, lim *Limits, partial bool) ([]byte, ContentResult) {
	out, r := decompress(dst, raw, enc, lim.MaxBodyBytes, lim.MaxDecodedRatio, partial)
	return out, ContentResult(r)
}
