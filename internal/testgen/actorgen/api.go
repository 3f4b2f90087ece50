package actorgen

import (
	"fmt"
	"strings"
)

// The generated shop API: answers of its endpoints.

var productNames = []string{"desk lamp", "office chair", "usb-c hub", "standing desk", "monitor arm", "notebook", "fountain pen", "backpack", "water bottle",
	"headphones", "keyboard", "mouse pad", "webcam", "cable set", "plant pot"}

func (g *gen) product(id int) string {
	return fmt.Sprintf(`{"id":%d,"name":%q,"price":%d.%02d,"currency":"EUR","seller_id":%d,"stock":%d,"rating":%d.%d}`,
		id, productNames[id%len(productNames)], 5+id%300, id%100, 100+id%97, (id*7)%500, 3+id%3, id%10)
}

func (g *gen) productPage(cat string, page int) string {
	var b strings.Builder
	b.WriteString(`{"category":"` + cat + `","page":` + fmt.Sprint(page) + `,"items":[`)
	for k := 0; k < 12; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		id := 1 + (page*12+k*31)%g.catalog
		fmt.Fprintf(&b, `{"id":%d,"name":%q,"price":%d.99}`, id, productNames[id%len(productNames)], 5+id%300)
	}
	b.WriteString(`]}`)
	return b.String()
}

// profile is a user's own profile (personal data).
func (g *gen) profile(sub, email string) string {
	return fmt.Sprintf(`{"id":%q,"email":%q,"phone":"+49 151 %08d","name":"%s","newsletter":true}`, sub, email, g.r.IntN(1e8), strings.Split(email, "@")[0])
}

// order is one order of a customer (personal data: e-mail, address).
func (g *gen) order(id int, customer int, email string) string {
	return fmt.Sprintf(`{"id":%d,"customer_id":%d,"email":%q,"status":"shipped","total":%d.%02d,"items":[{"sku":"SKU-%05d","qty":%d}],"ship_to":{"city":"Berlin","zip":"10%03d"}}`,
		id, customer, email, 10+id%400, id%100, id%99999, 1+id%3, id%1000)
}

func (g *gen) orderList(customer int, email string, page int) string {
	var b strings.Builder
	b.WriteString(`{"page":` + fmt.Sprint(page) + `,"orders":[`)
	for k := 0; k < 5; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"customer_id":%d,"status":"delivered","total":%d.50}`, 900000+customer*10+k, customer, 20+k*7)
	}
	b.WriteString(`]}`)
	return b.String()
}

// invoicePage is a back-office listing: many customers' billing data.
func (g *gen) invoicePage(page, per int) string {
	var b strings.Builder
	b.WriteString(`{"page":` + fmt.Sprint(page) + `,"invoices":[`)
	for k := 0; k < per; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"invoice":"INV-2026-%06d","customer_id":%d,"billing_email":%q,"amount":%d.00,"iban":"DE89370400440532013000"}`,
			page*per+k, 10000+g.r.IntN(90000), g.email(), 50+g.r.IntN(900))
	}
	b.WriteString(`]}`)
	return b.String()
}

// customer is one customer record (back office).
func (g *gen) customer(id int) string {
	return fmt.Sprintf(`{"customer_id":%d,"email":%q,"phone":"+1 415 555 %04d","name":"%s %s","date_of_birth":"19%02d-0%d-1%d","orders":%d}`,
		id, g.email(), g.r.IntN(10000), firstNames[id%len(firstNames)], lastNames[id%len(lastNames)], 50+id%49, 1+id%9, id%9, id%40)
}

func (g *gen) exportCSV(rows int) string {
	var b strings.Builder
	b.WriteString("customer_id,email,phone,total\n")
	for k := 0; k < rows; k++ {
		fmt.Fprintf(&b, "%d,%s,+44 20 7946 %04d,%d.00\n", 10000+k, g.email(), g.r.IntN(10000), g.r.IntN(999))
	}
	return b.String()
}

func (g *gen) notifications(n int) string {
	if n == 0 {
		return `{"notifications":[],"next_poll_seconds":30}`
	}
	return fmt.Sprintf(`{"notifications":[{"id":%d,"type":"order_update","text":"Your order shipped"}],"next_poll_seconds":30}`, g.r.IntN(1e6))
}

func (g *gen) searchResult(q string) string {
	return fmt.Sprintf(`{"q":%q,"total":%d,"items":[{"id":%d},{"id":%d},{"id":%d}]}`, q, g.r.IntN(300), g.zipf(), g.zipf(), g.zipf())
}

var searchWords = []string{"lamp", "chair", "usb hub", "desk", "pen", "backpack", "bottle", "headphones", "keyboard", "webcam", "cable", "plant",
	"ergonomic chair", "led lamp", "wireless mouse", "monitor 27"}

const (
	loginOK     = `{"access_token":"%s","token_type":"Bearer","expires_in":3600}`
	loginFailed = `{"error":"invalid_grant","error_description":"Invalid email or password"}`
)
