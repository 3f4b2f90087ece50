// Package sensor wires apitap together: configuration, the pipeline from
// packet sources through decode, flow sharding, reassembly and HTTP parsing
// to events, and its lifecycle. It is the only package that imports all the
// others.
//
// Data flow: capture.Source -> decode.Decoder (reader, to pick the shard) ->
// bounded per-worker queue -> worker: decode -> reassembly.Worker ->
// http1.Conn -> Transaction -> analyzers -> event encoding -> output.
//
// Concurrency: Pipeline.Run and Close are called from one goroutine; each
// worker runs on its own goroutine and owns its decoder, reassembly state and
// event buffer. The only shared state is the output writer (a mutex per
// 64 KiB of events) and atomic progress counters.
package sensor
