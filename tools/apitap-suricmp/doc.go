// Command apitap-suricmp compares apitap's HTTP transactions with
// Suricata's on a set of captures: the fidelity harness of issue 21.
//
//	apitap-suricmp [-suricata PATH] [-v] DIR_OR_FILE...
//
// For each capture (pcap or pcapng, gzip-compressed or not) it runs
// Suricata 7 (`suricata -r`, eve http records, a minimal configuration
// written to a temporary directory) and apitap's reassembly and HTTP/1
// and HTTP/2 parsers (sensor/decode and reassembly, as `apitap read` runs
// them, without the analyzers; Suricata's http2 parser for the HTTP/2
// streams, whose :authority stands for Host), and compares the
// transactions as multisets of (method,
// host, URL, status): the URL is the request target as sent, the host the
// Host header without its port, lower case; a transaction without response
// has status 0. It prints one line per capture and the totals:
//
//	file  suricata=N apitap=M agree=K
//	total suricata=N apitap=M agree=K (P% of Suricata's, Q% of apitap's)
//
// With -v it prints the transactions that only one side reported.
// Unmatched responses are left out of both sides (Suricata logs a request
// it did not see as "libhtp::request_uri_not_seen"; apitap as a response
// without request); captures whose link type Suricata does not read
// (NFLOG, SLL2) are skipped.
//
// Exit codes: 0 success, 1 a tool failed, 2 usage, 3 Suricata is not
// installed (the comparison is skipped).
//
// It is test tooling: nothing in the sensor imports it.
package main
