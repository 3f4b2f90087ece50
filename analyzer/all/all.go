// Package all links every analyzer into the binary: one blank import per
// analyzer, each registering itself from init (see package analyzer).
package all

import (
	// injection, exploits, scanners and CVE rule packs
	_ "github.com/apitap/apitap/analyzer/attack"
	// threat actors: credential stuffing, brute force, BOLA, bots, rate abuse, exfiltration
	_ "github.com/apitap/apitap/analyzer/behavior"
	// the API catalog
	_ "github.com/apitap/apitap/analyzer/discovery"
	// GraphQL abuse: introspection, depth, aliases, batching, directives, fragment cycles, CSRF, leaks
	_ "github.com/apitap/apitap/analyzer/graphql"
	// traffic against published OpenAPI specs (on with --spec)
	_ "github.com/apitap/apitap/analyzer/conformance"
	// risk score per endpoint, from every other analyzer's findings
	_ "github.com/apitap/apitap/analyzer/risk"
	// PII, card data and secrets, with redacted evidence
	_ "github.com/apitap/apitap/analyzer/sensitive"
)
