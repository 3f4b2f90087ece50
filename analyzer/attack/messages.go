package attack

// AnalyzesMessages implements analyzer.MessageAnalyzer: WebSocket
// messages are examined too (a client's JSON message is read like a JSON
// request body).
func (w *worker) AnalyzesMessages() bool { return true }
