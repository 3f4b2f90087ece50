package sensitive

// AnalyzesMessages implements analyzer.MessageAnalyzer: WebSocket
// messages are scanned too (a client's message like a request body, a
// server's like a response body, sampled the same way).
func (a *Analyzer) AnalyzesMessages() bool { return true }
