package http1

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// decoders are pooled across connections and workers: building one costs
// far more than resetting it.
type decoders struct {
	src bytes.Reader
	gz  *gzip.Reader
	fl  io.ReadCloser
	zl  io.ReadCloser
	zs  *zstd.Decoder
	br  *brotli.Reader
}

var decoderPool = sync.Pool{New: func() any { return new(decoders) }}

// decodeResult says how a decode ended.
type decodeResult uint8

const (
	decodeOK        decodeResult = iota
	decodeTruncated              // output reached the limit (more was there)
	decodeBomb                   // output reached the ratio bound
	decodeError                  // corrupt or unsupported encoding
	decodeUnknown                // an encoding we do not decode
)

// normEncoding returns the canonical name of a single content coding, or ""
// for identity.
func normEncoding(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "", strings.EqualFold(v, "identity"):
		return ""
	case strings.EqualFold(v, "gzip"), strings.EqualFold(v, "x-gzip"):
		return "gzip"
	case strings.EqualFold(v, "deflate"):
		return "deflate"
	case strings.EqualFold(v, "br"):
		return "br"
	case strings.EqualFold(v, "zstd"):
		return "zstd"
	}
	return v
}

// decompress decodes raw (which may be a prefix of the body when partial is
// set) with encoding enc into dst[:0], writing at most maxOut bytes and at
// most ratio*len(raw).
func decompress(dst, raw []byte, enc string, maxOut, ratio int, partial bool) ([]byte, decodeResult) {
	limit := maxOut
	bomb := false
	if r := ratio * max(len(raw), 1); r < limit {
		limit, bomb = r, true
	}
	d := decoderPool.Get().(*decoders)
	defer decoderPool.Put(d)
	d.src.Reset(raw)
	var r io.Reader
	var err error
	switch enc {
	case "gzip":
		if d.gz == nil {
			d.gz, err = gzip.NewReader(&d.src)
		} else {
			err = d.gz.Reset(&d.src)
		}
		if err == nil {
			d.gz.Multistream(false)
		}
		r = d.gz
	case "deflate":
		// "deflate" is zlib-wrapped per RFC 9110, but servers often send raw
		// deflate: look at the zlib header to tell them apart.
		if len(raw) >= 2 && raw[0]&0x0f == 8 && (uint16(raw[0])<<8|uint16(raw[1]))%31 == 0 {
			if d.zl == nil {
				d.zl, err = zlib.NewReader(&d.src)
			} else {
				err = d.zl.(zlib.Resetter).Reset(&d.src, nil)
			}
			r = d.zl
		} else {
			if d.fl == nil {
				d.fl = flate.NewReader(&d.src)
			} else {
				err = d.fl.(flate.Resetter).Reset(&d.src, nil)
			}
			r = d.fl
		}
	case "br":
		if d.br == nil {
			d.br = brotli.NewReader(&d.src)
		} else {
			err = d.br.Reset(&d.src)
		}
		r = d.br
	case "zstd":
		if d.zs == nil {
			d.zs, err = zstd.NewReader(&d.src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20))
		} else {
			err = d.zs.Reset(&d.src)
		}
		r = d.zs
	default:
		return dst[:0], decodeUnknown
	}
	if err != nil {
		if partial && isEOF(err) {
			return dst[:0], decodeTruncated
		}
		return dst[:0], decodeError
	}
	out := dst[:0]
	for {
		if len(out) == cap(out) {
			if cap(out) >= limit {
				break
			}
			out = append(out, 0)[:len(out)]
		}
		n, rerr := r.Read(out[len(out):min(cap(out), limit)])
		out = out[:len(out)+n]
		if rerr != nil {
			if rerr == io.EOF {
				return out, decodeOK
			}
			if partial && isEOF(rerr) {
				return out, decodeTruncated
			}
			return out, decodeError
		}
		if len(out) >= limit {
			break
		}
	}
	// Limit reached: is there more?
	var probe [1]byte
	if n, _ := r.Read(probe[:]); n == 0 {
		return out, decodeOK
	}
	if bomb {
		return out, decodeBomb
	}
	return out, decodeTruncated
}

func isEOF(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
