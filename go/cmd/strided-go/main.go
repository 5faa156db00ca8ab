// Command strided-go runs strided's model files and trains the course's network, in Go:
//
//	strided-go predict MODEL IMAGE_OR_FOLDER... [--top-k K] [--json]
//	strided-go train [--epochs N] [--batch-size B] [--lr LR] [--momentum M] [--seed S] [--out MODEL]
//
// predict prints what `strided predict` prints (the same JSON lines with --json); train learns the
// MNIST sample that ships inside the Python package and prints the test accuracy.
package main

import (
	"fmt"
	"os"
	"strings"
)

const usage = `usage: strided-go {predict,train} ...

  predict MODEL IMAGE_OR_FOLDER... [--top-k K] [--json]
                 classify image files with a strided model file (.safetensors)
  train [--epochs N] [--batch-size B] [--lr LR] [--momentum M] [--weight-decay WD] [--seed S]
        [--data DIR] [--limit N] [--out MODEL]
                 train the course's network (seed_cnn) on the MNIST sample with SGD; --out writes
                 a strided model file
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Print(usage)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	command, args := os.Args[1], os.Args[2:]
	var err error
	switch command {
	case "predict":
		err = predict(args)
	case "train":
		err = train(args)
	default:
		err = fmt.Errorf("unknown command %q (predict or train)", command)
		command = ""
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %s\n", strings.TrimSpace("strided-go "+command),
			strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

// recovered turns a panic of the network (a layer refusing an input) into an error: no Go
// stack trace reaches a user, only strided's one-line message.
func recovered(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%v", r)
	}
}
