// Package gqlreq recognises GraphQL requests in HTTP transactions and
// WebSocket messages and summarises their operations: type, name, root
// fields, argument names, variable types, depth, aliases, repeated fields,
// directives, fragment cycles, introspection, persisted-query hashes; and
// GraphQL responses: the data's root fields and the errors.
//
// Queries are parsed with github.com/vektah/gqlparser/v2 (no schema: what
// the request says, not what a server would accept), under a token limit;
// whatever a bound cuts is flagged, never fatal. Recognised carriers: a
// JSON body with "query" (or only a persisted-query hash in
// "extensions"), a JSON array of those (batching), an application/graphql
// body, a GET with ?query= (or a persisted-query hash), and the graphql-ws
// and subscriptions-transport-ws messages over WebSocket ("subscribe" and
// "start" carry a payload like a JSON request).
//
// It is a library used by the discovery catalog (stage two) and the
// graphql analyzer (stage one); it keeps no state, and a Parser (one per
// goroutine) reuses its buffers.
package gqlreq
