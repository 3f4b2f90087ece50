package attack

import "github.com/apitap/apitap/reassembly"

// InputsFunc finds inputs of a request that the attack analyzer does not
// read itself: values inside a body's own language (the string literals
// of GraphQL arguments, package analyzer/graphql). It calls add for each,
// with its location ("query", "body") and name. It runs on the workers'
// goroutines, concurrently: it must be safe for concurrent use, and add
// is only valid during the call.
type InputsFunc func(tx *reassembly.Transaction, add func(loc, name, value string))

var inputHooks []InputsFunc

// AddInputs registers fn; call it from an init function (the list is not
// locked).
func AddInputs(fn InputsFunc) { inputHooks = append(inputHooks, fn) }

// hooked examines the inputs the registered InputsFuncs find in tx.
func (w *worker) hooked(tx *reassembly.Transaction) {
	if w.addFn == nil {
		w.addFn = w.addInput // once: a method value made per call allocates
	}
	for _, h := range inputHooks {
		h(tx, w.addFn)
	}
}

// addInput examines one input found by a hook.
func (w *worker) addInput(loc, name, value string) {
	w.value(input{loc: loc, name: name}, value, false)
}
