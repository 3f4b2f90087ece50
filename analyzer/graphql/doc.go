// Package graphql is the GraphQL abuse analyzer: introspection, excessive
// depth, alias and field duplication, batching, directive overloading,
// circular fragments, mutations a browser can be tricked into sending
// (CSRF: GET, or a POST with a simple content type), field suggestions
// that leak the schema and verbose errors. Limits are configurable, per
// host. String literals of arguments (and the variables of GET requests)
// are handed to the attack analyzer as inputs (attack.AddInputs), so
// injections inside GraphQL are found like any other.
//
// It tells the analyzers after it what a GraphQL request did as
// operations (Transaction.Notes.GraphQL, note.go): how many it carried
// (batch elements, aliased repeats of a root field), the login attempts
// among them with the outcome of each read from its part of the answer
// (the behaviour analyzer counts each as a login and the operations for
// its rate), and for a batch the sensitive types of each element of the
// response array (discovery attributes them to the operations). It runs
// after the sensitive analyzer, whose verdict says which batch responses
// carry sensitive data.
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
