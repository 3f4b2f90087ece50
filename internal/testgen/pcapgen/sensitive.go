package pcapgen

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// SensitiveValues are the raw values planted in sensitive.pcap, in every
// form they take on the wire. The no-leak test greps every output of
// apitap for each of them: none may appear.
var SensitiveValues = []string{
	"4111111111111111", "5500 0000 0000 0004", "5500000000000004", "371449635398431",
	"078-05-1120", "219-09-9999",
	"GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00", "DE89370400440532013000",
	"jane.doe@example.com", "jane.doe%40example.com", "r.roe@corp.example.net",
	"+14155550123", "(415) 555-0199", "4155550199",
	"1984-07-12", "07/12/1984",
	"356938035643809",
	"AKIAIOSFODNN7EXAMPLE", "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", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
	"MIIEowIBAAKCAQEA7bq98", // private key material
	"CorrectHorse42!", "s3cret-Pass", "key-5f2b9c1d7e3a4b6c", "8f14e45fceea167a5a36dedd4bea2543",
	base64.StdEncoding.EncodeToString([]byte("alice:s3cret-Pass")),
	sensitiveJWT, sensitiveNoneJWT,
}

var (
	sensitiveJWT     = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + b64(`{"sub":"jane","email":"jane.doe@example.com"}`) + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	sensitiveNoneJWT = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + b64(`{"sub":"admin","role":"admin"}`) + "."
)

// sensitive is traffic full of personal data, card data and secrets in
// every place they hide: path, query, headers, cookies, JSON, form and
// text bodies, both directions.
func sensitive() (Link, *Encap, []Packet) {
	a := NewAPI(11)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	ex := func(req, resp []byte) { p = append(p, c.Exchange(req, resp)...) }
	const host = "api.bank.example"
	ex(a.Request("GET", host, "/v1/users/jane.doe@example.com/cards/4111111111111111?ssn=078-05-1120&email=jane.doe%40example.com&phone=%2B14155550123",
		[]string{"Authorization: Bearer " + sensitiveJWT, "X-Customer-Email: r.roe@corp.example.net", "X-Card: 5500 0000 0000 0004"}, ""),
		Response(200, `{"user":{"email":"jane.doe@example.com","phone":"+14155550123","dob":"1984-07-12","ssn":"078-05-1120"},`+
			`"cards":[{"number":"4111111111111111"},{"number":"5500 0000 0000 0004"},{"number":"371449635398431"}],"iban":"GB82WEST12345698765432"}`, ""))
	ex(a.Request("POST", host, "/v1/login", []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret-Pass"))},
		`{"username":"jane","password":"CorrectHorse42!","date_of_birth":"07/12/1984","device":{"imei":"356938035643809"}}`),
		Response(200, `{"session":"ok"}`, "", "Set-Cookie: sid=8f14e45fceea167a5a36dedd4bea2543; Path=/; HttpOnly"))
	form := "card=4111111111111111&iban=DE89+3704+0044+0532+0130+00&password=CorrectHorse42%21&ssn=219-09-9999"
	ex([]byte("POST /v1/payments HTTP/1.1\r\nHost: "+host+"\r\nCookie: sid=8f14e45fceea167a5a36dedd4bea2543\r\nX-API-Key: key-5f2b9c1d7e3a4b6c\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "+fmt.Sprint(len(form))+"\r\n\r\n"+form),
		Response(201, `{"status":"accepted"}`, ""))
	var secrets strings.Builder
	secrets.WriteString(`{"aws_access_key_id":"AKIAIOSFODNN7EXAMPLE","github":"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",`)
	secrets.WriteString(`"stripe":"sk_live_4eC39HqLyjWDarjtT1zdp7dc","tls_key":"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98\n-----END RSA PRIVATE KEY-----",`)
	secrets.WriteString(`"contacts":"call (415) 555-0199 or mail r.roe@corp.example.net"}`)
	ex(a.Request("GET", host, "/v1/internal/config?token="+sensitiveNoneJWT, []string{"Authorization: Bearer " + sensitiveNoneJWT}, ""),
		Response(200, secrets.String(), ""))
	text := "Dear customer, your card 4111111111111111 and account DE89 3704 0044 0532 0130 00 are on file; we will call 4155550199."
	ex(a.Request("GET", host, "/v1/letters/1", nil, ""),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "+fmt.Sprint(len(text))+"\r\n\r\n"+text))
	return Ethernet, &Encap{}, append(p, c.Close()...)
}
