// Package webhook is the webhook sink: events POSTed as JSON to an HTTP
// endpoint, either as they are (apitap's or OCSF) or rendered through a
// template (built-in ones for Slack and Microsoft Teams), with retries and
// backoff, a bounded queue of its own and the on-disk spool of package
// spool while the receiver is down. See README.md.
//
// It sits behind the exporter's fan-out: Send is called from the sink's
// own goroutine, one request at a time, so events arrive in order.
package webhook
