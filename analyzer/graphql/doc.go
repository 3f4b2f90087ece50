// Package graphql is the GraphQL abuse analyzer: introspection, excessive
// depth, alias and field duplication, batching, directive overloading,
// circular fragments, mutations a browser can be tricked into sending
// (CSRF: GET, or a POST with a simple content type), field suggestions
// that leak the schema and verbose errors. Limits are configurable, per
// host. String literals of arguments (and the variables of GET requests)
// are handed to the attack analyzer as inputs (attack.AddInputs), so
// injections inside GraphQL are found like any other.
//
// Pipeline position: stage one (StageFlow), on the worker that
// reassembled the transaction; it takes WebSocket messages too
// (graphql-ws and subscriptions-transport-ws). It keeps no state across
// transactions but its aggregator, whose occurrences stage two folds in
// capture order (package aggregate), so the output does not depend on the
// number of workers.
//
// Requests are recognised and parsed by package gqlreq.
package graphql
