package event

// SensitiveTypes is the vocabulary of sensitive data types (CONTRACT.md's
// sensitive_data and the evidence rules of exposure detections). Bit i of
// reassembly.Notes.SensitiveRequest/Response is SensitiveTypes[i]; new types
// are appended, never reordered.
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

// SensitiveBit returns the bit of a type name in the Notes bit sets, or 0.
func SensitiveBit(name string) uint64 {
	for i, n := range SensitiveTypes {
		if n == name {
			return 1 << i
		}
	}
	return 0
}
