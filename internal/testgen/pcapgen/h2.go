package pcapgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"

	xh2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// H2 writes one side of an HTTP/2 connection with x/net's framer and HPACK
// encoder: the frames and header blocks a real peer sends (deterministic).
type H2 struct {
	out  bytes.Buffer
	fr   *xh2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

// NewH2 starts a side: the client writes the connection preface; both
// write their SETTINGS.
func NewH2(client bool) *H2 {
	p := &H2{}
	if client {
		p.out.WriteString(xh2.ClientPreface)
	}
	p.fr = xh2.NewFramer(&p.out, nil)
	p.enc = hpack.NewEncoder(&p.hbuf)
	if client {
		p.fr.WriteSettings(xh2.Setting{ID: xh2.SettingEnablePush, Val: 0}, xh2.Setting{ID: xh2.SettingInitialWindowSize, Val: 4 << 20})
	} else {
		p.fr.WriteSettings(xh2.Setting{ID: xh2.SettingMaxConcurrentStreams, Val: 250}, xh2.Setting{ID: xh2.SettingMaxFrameSize, Val: 16384})
	}
	return p
}

// Take returns what the side wrote since the last Take.
func (p *H2) Take() []byte {
	b := append([]byte(nil), p.out.Bytes()...)
	p.out.Reset()
	return b
}

// Headers writes a HEADERS frame (fields as name, value pairs).
func (p *H2) Headers(id uint32, end bool, kv ...string) {
	p.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	p.fr.WriteHeaders(xh2.HeadersFrameParam{StreamID: id, BlockFragment: p.hbuf.Bytes(), EndStream: end, EndHeaders: true})
}

// Data writes b in DATA frames of at most 16 KiB.
func (p *H2) Data(id uint32, end bool, b []byte) {
	for len(b) > 16384 {
		p.fr.WriteData(id, false, b[:16384])
		b = b[16384:]
	}
	p.fr.WriteData(id, end, b)
}

// Framer is the side's x/net framer, for frames Headers and Data do not
// write (RST_STREAM, GOAWAY, PUSH_PROMISE, WINDOW_UPDATE).
func (p *H2) Framer() *xh2.Framer { return p.fr }

// Block encodes fields with the side's HPACK encoder (for PUSH_PROMISE).
func (p *H2) Block(kv ...string) []byte {
	p.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), p.hbuf.Bytes()...)
}

// GRPCMessage frames a protobuf message as gRPC does (compressed: gzip,
// flagged).
func GRPCMessage(msg []byte, compressed bool) []byte {
	flag := byte(0)
	if compressed {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		w.Write(msg)
		w.Close()
		msg, flag = b.Bytes(), 1
	}
	n := len(msg)
	return append([]byte{flag, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

// PB builds a protobuf message on the wire format: fields in order, each a
// number and a Go value (string, int (varint), []byte, or a nested PB).
type PB []any

// Bytes serializes the message.
func (m PB) Bytes() []byte {
	var b []byte
	for i := 0; i+1 < len(m); i += 2 {
		num := protowire.Number(m[i].(int))
		switch v := m[i+1].(type) {
		case string:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendString(b, v)
		case int:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		case []byte:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, v)
		case PB:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, v.Bytes())
		default:
			panic(fmt.Sprintf("PB: field %d: %T", num, v))
		}
	}
	return b
}

// grpcCall is one call of a generated gRPC conversation.
type grpcCall struct {
	path     string
	req      []PB // request messages
	resp     []PB // response messages
	status   int
	message  string
	gzip     bool     // messages compressed (grpc-encoding gzip)
	metadata []string // extra request headers
}

// grpcConn writes calls on one HTTP/2 connection, one after the other, and
// returns the packets.
func grpcConn(c *Conn, authority string, calls []grpcCall) []Packet {
	cli, srv := NewH2(true), NewH2(false)
	p := c.Send(true, cli.Take())
	p = append(p, c.Send(false, srv.Take())...)
	for i, k := range calls {
		id := uint32(2*i + 1)
		hdr := []string{":method", "POST", ":scheme", "http", ":path", k.path, ":authority", authority,
			"content-type", "application/grpc", "user-agent", "grpc-go/1.85.0", "te", "trailers"}
		if k.gzip {
			hdr = append(hdr, "grpc-encoding", "gzip", "grpc-accept-encoding", "gzip")
		}
		hdr = append(hdr, k.metadata...)
		cli.Headers(id, false, hdr...)
		var body []byte
		for _, m := range k.req {
			body = append(body, GRPCMessage(m.Bytes(), k.gzip)...)
		}
		cli.Data(id, true, body)
		p = append(p, c.Send(true, cli.Take())...)
		if len(k.resp) == 0 && k.status != 0 { // trailers-only
			srv.Headers(id, true, ":status", "200", "content-type", "application/grpc", "grpc-status", fmt.Sprint(k.status), "grpc-message", k.message)
			p = append(p, c.Send(false, srv.Take())...)
			continue
		}
		rh := []string{":status", "200", "content-type", "application/grpc"}
		if k.gzip {
			rh = append(rh, "grpc-encoding", "gzip")
		}
		srv.Headers(id, false, rh...)
		for _, m := range k.resp {
			srv.Data(id, false, GRPCMessage(m.Bytes(), k.gzip))
		}
		tr := []string{"grpc-status", fmt.Sprint(k.status)}
		if k.message != "" {
			tr = append(tr, "grpc-message", k.message)
		}
		srv.Headers(id, true, tr...)
		p = append(p, c.Send(false, srv.Take())...)
	}
	return p
}

// shopProto is the demo's gRPC API as a .proto file would declare it.
const shopProtoFile = "shop/v1/shop.proto"

// ShopProtos returns the descriptor set of the demo's gRPC services, as
// protoc --descriptor_set_out writes it for shop/v1/shop.proto, serialized
// deterministically (testdata/demo/shop.protoset).
func ShopProtos() []byte {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	i32 := descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	msgT := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	field := func(name string, num int32, t *descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: t, Label: opt, JsonName: proto.String(jsonName(name))}
	}
	message := func(name string, fs ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fs}
	}
	method := func(name, in, out string, cs, ss bool) *descriptorpb.MethodDescriptorProto {
		m := &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".shop.v1." + in), OutputType: proto.String(".shop.v1." + out)}
		if cs {
			m.ClientStreaming = proto.Bool(true)
		}
		if ss {
			m.ServerStreaming = proto.Bool(true)
		}
		return m
	}
	items := field("items", 2, msgT)
	items.Label, items.TypeName = rep, proto.String(".shop.v1.OrderItem")
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String(shopProtoFile), Package: proto.String("shop.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			message("ChargeRequest", field("customer_email", 1, str), field("card_number", 2, str), field("amount_cents", 3, i64), field("currency", 4, str), field("note", 5, str)),
			message("ChargeReply", field("charge_id", 1, str), field("status", 2, str), field("card_last4", 3, str)),
			message("GetUserRequest", field("user_id", 1, i64)),
			message("User", field("id", 1, i64), field("email", 2, str), field("phone", 3, str), field("name", 4, str)),
			message("WatchOrdersRequest", field("customer_id", 1, i64)),
			message("OrderEvent", field("order_id", 1, i64), field("state", 2, str), field("total_cents", 3, i64)),
			message("OrderItem", field("sku", 1, str), field("qty", 2, i32)),
			message("UploadSummary", field("count", 1, i32), items),
			message("StockUpdate", field("sku", 1, str), field("delta", 2, i32)),
			message("StockLevel", field("sku", 1, str), field("level", 2, i32)),
		},
		Service: []*descriptorpb.ServiceDescriptorProto{
			{Name: proto.String("Payments"), Method: []*descriptorpb.MethodDescriptorProto{method("Charge", "ChargeRequest", "ChargeReply", false, false)}},
			{Name: proto.String("Users"), Method: []*descriptorpb.MethodDescriptorProto{method("GetUser", "GetUserRequest", "User", false, false)}},
			{Name: proto.String("Orders"), Method: []*descriptorpb.MethodDescriptorProto{
				method("WatchOrders", "WatchOrdersRequest", "OrderEvent", false, true),
				method("UploadItems", "OrderItem", "UploadSummary", true, false),
			}},
			{Name: proto.String("Inventory"), Method: []*descriptorpb.MethodDescriptorProto{method("SyncStock", "StockUpdate", "StockLevel", true, true)}},
		},
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fd}})
	if err != nil {
		panic(err)
	}
	return b
}

// jsonName is protoc's lowerCamelCase JSON name of a field.
func jsonName(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
