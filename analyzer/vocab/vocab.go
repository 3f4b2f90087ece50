// Package vocab is the vocabulary the analyzers share: the names of the
// bits of reassembly.Notes (what one analyzer tells the ones after it about
// a transaction) and of the sensitive data types. It imports nothing, so
// every analyzer, the catalog and the exporters can use it; the analyzer
// that provides a bit set (see its Descriptor's Provides) is the only one
// that writes it. Names are appended, never reordered: they are bit
// positions.
package vocab

// SensitiveTypes is the vocabulary of sensitive data types (CONTRACT.md's
// sensitive_data and the evidence rules of exposure detections). Bit i of
// Notes.SensitiveRequest/Response is SensitiveTypes[i]; provided by the
// sensitive analyzer.
var SensitiveTypes = []string{
	"card",        // payment card number (Luhn and issuer ranges)
	"ssn",         // US social security number
	"iban",        // international bank account number (mod-97)
	"email",       // e-mail address
	"phone",       // phone number (E.164 or national formats)
	"dob",         // date of birth (a date in a field that says so)
	"ip",          // IP address in a body, parameter or header value
	"imei",        // mobile device id (Luhn)
	"jwt",         // JSON Web Token
	"secret",      // cloud keys, private keys, well-known token formats, high-entropy secrets
	"password",    // a value in a field named like a password
	"credentials", // Basic or Bearer credentials, API keys in headers
	"custom",      // a type from the sensitive analyzer's configuration
}

// GraphQLClasses are the detection classes of the graphql analyzer
// (analyzer/graphql; CONTRACT.md's GraphQL classes and the ones added with
// it). They name no Notes bits.
var GraphQLClasses = []string{"graphql_introspection", "graphql_depth", "graphql_alias_abuse", "graphql_batching", "graphql_directive_overload",
	"graphql_circular_fragment", "graphql_csrf", "graphql_field_suggestion", "graphql_verbose_error"}

// AttackClasses name the bits of Notes.Attacks (provided by the attack
// analyzer): the detector classes, then the classes of signatures.
var AttackClasses = []string{"sqli", "xss", "path_traversal", "cmd_injection", "ssrf", "log4shell", "xxe", "ssti", "nosqli", "prototype_pollution",
	"crlf_injection", "open_redirect", "xpath_ldap_injection", "deserialization", "file_upload", "evasion", "request_smuggling", "scanner", "cve"}

// AbuseClasses name the bits of Notes.Abuse (provided by the behaviour
// analyzer): the behaviour classes detected on the transaction's actor in
// its current window.
var AbuseClasses = []string{"credential_stuffing", "brute_force", "account_takeover", "bola", "rate_abuse", "bot", "exfiltration",
	"scraping", "dos", "low_and_slow", "user_enumeration"}

// Misconfigs name the bits of Notes.Misconfig (provided by the risk
// analyzer): security misconfigurations seen in the response.
var Misconfigs = []string{"cors_any_origin_with_credentials", "cors_any_origin", "missing_security_headers", "version_banner", "stack_trace"}

// Violations name the bits of Notes.Violations (provided by the
// conformance analyzer).
var Violations = []string{"undocumented_parameter", "undocumented_header", "undocumented_status", "schema_violation"}

// Bit returns the bit of name in a vocabulary list, or 0.
func Bit(list []string, name string) uint64 {
	for i, n := range list {
		if n == name {
			return 1 << i
		}
	}
	return 0
}
