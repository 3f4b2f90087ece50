// Package gqltest records a real GraphQL server (github.com/graph-gophers/graphql-go,
// schema first, tests only) driven by a realistic mix of clients and by
// attacks, in-process over loopback (package netrec), and says what each
// request is: the operations it carries (the truth for the catalog) and
// the attack class it was made for (the truth for the detectors).
package gqltest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	graphql "github.com/graph-gophers/graphql-go"
)

// SDL is the server's schema.
const SDL = `schema { query: Query mutation: Mutation }
type Query {
  me: User
  user(id: ID!): User
  users(first: Int = 10): [User!]!
  product(sku: String!): Product
  products(first: Int = 10, category: String): [Product!]!
  search(term: String!): [Product!]!
  order(id: ID!): Order
}
type Mutation {
  login(email: String!, password: String!): AuthPayload
  addToCart(sku: String!, qty: Int = 1): Cart!
  checkout(cartId: ID!): Order
  updateProfile(name: String, phone: String): User
}
type User { id: ID! name: String! email: String! friends: [User!]! orders: [Order!]! }
type Product { sku: String! name: String! price: Float! category: String! reviews: [Review!]! }
type Review { id: ID! rating: Int! author: User! product: Product! }
type Order { id: ID! total: Float! items: [Product!]! buyer: User! }
type Cart { id: ID! items: [Product!]! total: Float! }
type AuthPayload { token: String! user: User }
`

// resolvers (graph-gophers with UseFieldResolvers: exported fields
// resolve fields; methods take arguments)
type user struct {
	ID      graphql.ID
	Name    string
	Email   string
	friends []*user
	orders  []*order
}

func (u *user) Friends() []*user { return u.friends }
func (u *user) Orders() []*order { return u.orders }

type product struct {
	Sku, Name, Category string
	Price               float64
	reviews             []*review
}

func (p *product) Reviews() []*review { return p.reviews }

type review struct {
	ID      graphql.ID
	Rating  int32
	Author  *user
	Product *product
}

type order struct {
	ID    graphql.ID
	Total float64
	Items []*product
	Buyer *user
}

type cart struct {
	ID    graphql.ID
	Items []*product
	Total float64
}

type authPayload struct {
	Token string
	User  *user
}

type resolver struct {
	users    []*user
	products []*product
}

func newResolver() *resolver {
	r := &resolver{}
	for i := 0; i < 4; i++ {
		r.users = append(r.users, &user{ID: graphql.ID(fmt.Sprint(i + 1)), Name: fmt.Sprintf("User %d", i+1), Email: fmt.Sprintf("user%d@shop.example", i+1)})
	}
	for i := 0; i < 6; i++ {
		r.products = append(r.products, &product{Sku: fmt.Sprintf("SKU-%d", 100+i), Name: fmt.Sprintf("Product %d", i), Category: []string{"books", "games"}[i%2], Price: 9.99 + float64(i)})
	}
	for i, u := range r.users {
		u.friends = []*user{r.users[(i+1)%len(r.users)]}
		o := &order{ID: graphql.ID(fmt.Sprint(500 + i)), Total: 42.5, Items: r.products[:2], Buyer: u}
		u.orders = []*order{o}
	}
	for i, p := range r.products {
		p.reviews = []*review{{ID: graphql.ID(fmt.Sprint(900 + i)), Rating: 4, Author: r.users[i%len(r.users)], Product: p}}
	}
	return r
}

func (r *resolver) Me() *user { return r.users[0] }
func (r *resolver) User(args struct{ ID graphql.ID }) *user {
	for _, u := range r.users {
		if u.ID == args.ID {
			return u
		}
	}
	return nil
}
func (r *resolver) Users(args struct{ First int32 }) []*user { return r.users }
func (r *resolver) Product(args struct{ Sku string }) *product {
	for _, p := range r.products {
		if p.Sku == args.Sku {
			return p
		}
	}
	return nil
}
func (r *resolver) Products(args struct {
	First    int32
	Category *string
}) []*product {
	return r.products
}

// Search fails like a server that builds SQL from the term.
func (r *resolver) Search(args struct{ Term string }) ([]*product, error) {
	if strings.ContainsAny(args.Term, "'\"") {
		return nil, errors.New(`pq: syntax error at or near "'" (SQLSTATE 42601) at /srv/shop/internal/search.go:88`)
	}
	return r.products[:3], nil
}
func (r *resolver) Order(args struct{ ID graphql.ID }) *order { return r.users[0].orders[0] }
func (r *resolver) Login(args struct{ Email, Password string }) *authPayload {
	if args.Password != "correct horse" {
		return nil
	}
	return &authPayload{Token: "opaque-session-token", User: r.users[0]}
}
func (r *resolver) AddToCart(args struct {
	Sku string
	Qty int32
}) *cart {
	return &cart{ID: "c1", Items: r.products[:1], Total: 9.99}
}
func (r *resolver) Checkout(args struct{ CartID graphql.ID }) *order       { return r.users[0].orders[0] }
func (r *resolver) UpdateProfile(args struct{ Name, Phone *string }) *user { return r.users[0] }

// handler serves GraphQL over HTTP: POST JSON (an object or a batch),
// application/graphql, GET ?query=, and automatic persisted queries
// (a hash alone runs the query registered with it before, or answers
// PersistedQueryNotFound).
type handler struct {
	schema *graphql.Schema
	mu     sync.Mutex
	apq    map[string]string
}

type gqlBody struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    struct {
		PersistedQuery *struct {
			Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	} `json:"extensions"`
}

func (h *handler) exec(ctx context.Context, b gqlBody) any {
	if pq := b.Extensions.PersistedQuery; pq != nil {
		h.mu.Lock()
		if b.Query == "" {
			b.Query = h.apq[pq.Hash]
		} else {
			sum := sha256.Sum256([]byte(b.Query))
			if hex.EncodeToString(sum[:]) == pq.Hash {
				h.apq[pq.Hash] = b.Query
			}
		}
		h.mu.Unlock()
		if b.Query == "" {
			return map[string]any{"errors": []any{map[string]any{"message": "PersistedQueryNotFound"}}}
		}
	}
	return h.schema.Exec(ctx, b.Query, b.OperationName, b.Variables)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var out any
	switch {
	case r.Method == http.MethodGet:
		q := r.URL.Query()
		b := gqlBody{Query: q.Get("query"), OperationName: q.Get("operationName")}
		if v := q.Get("variables"); v != "" {
			json.Unmarshal([]byte(v), &b.Variables)
		}
		if e := q.Get("extensions"); e != "" {
			json.Unmarshal([]byte(e), &b.Extensions)
		}
		out = h.exec(r.Context(), b)
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/graphql"):
		q, _ := io.ReadAll(r.Body)
		out = h.exec(r.Context(), gqlBody{Query: string(q)})
	default:
		raw, _ := io.ReadAll(r.Body)
		if len(raw) > 0 && raw[0] == '[' {
			var bs []gqlBody
			if err := json.Unmarshal(raw, &bs); err != nil {
				http.Error(w, `{"errors":[{"message":"bad batch"}]}`, http.StatusBadRequest)
				return
			}
			var list []any
			for _, b := range bs {
				list = append(list, h.exec(r.Context(), b))
			}
			out = list
		} else {
			var b gqlBody
			if err := json.Unmarshal(raw, &b); err != nil {
				http.Error(w, `{"errors":[{"message":"bad request"}]}`, http.StatusBadRequest)
				return
			}
			out = h.exec(r.Context(), b)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// newHandler builds the server: no depth or complexity limits, introspection on.
func newHandler() http.Handler {
	return &handler{schema: graphql.MustParseSchema(SDL, newResolver(), graphql.UseFieldResolvers()), apq: map[string]string{}}
}

// Handler is the GraphQL server (the shop schema, graph-gophers/graphql-go)
// as an http.Handler, for tests that drive it with their own clients.
func Handler() http.Handler { return newHandler() }
