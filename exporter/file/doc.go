// Package file is the file sink: events as JSON lines (apitap's or OCSF)
// appended to a file that is rotated by size into numbered copies, as
// logrotate names them (PATH.1 newest). See README.md.
//
// It sits behind the exporter's fan-out: Send is called from the sink's
// own goroutine, so a slow disk never holds up capture.
package file
