package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/apitap/apitap/internal/naive"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: apitap-naive FILE")
		os.Exit(2)
	}
	res, err := naive.RunFile(os.Args[1])
	if err != nil && res.Packets == 0 {
		fmt.Fprintln(os.Stderr, "apitap-naive:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if err != nil {
		fmt.Fprintln(os.Stderr, "apitap-naive:", err)
		os.Exit(1)
	}
}
