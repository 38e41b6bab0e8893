// Command pulumi-language-nodejs is Ballast's own minimal Pulumi language host for Node.js.
//
// Pulumi's own host lives in a Go module that the Go module proxy reachable here does not
// serve (see docs/toolchain.md), so scripts/ensure-pulumi.sh builds this one instead. It
// implements the pulumirpc.LanguageRuntime gRPC service just far enough to run plain
// JavaScript (and, through the SDK's bundled ts-node, TypeScript) Pulumi programs:
//
//   - like every plugin it listens on 127.0.0.1, prints its port on the first line of stdout,
//     and takes the engine's gRPC address as its last command-line argument;
//   - Run starts `node <node_modules>/@pulumi/pulumi/cmd/run ... <program>`, found by walking up
//     from the program directory, and maps its exit status onto RunResponse;
//   - plugin discovery (GetRequiredPlugins/GetRequiredPackages) reports nothing: the engine
//     then loads provider plugins on demand when the program registers resources.
package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is reported by GetPluginInfo; scripts/ensure-pulumi.sh sets it with -ldflags -X.
var version = "0.0.0-dev"

// maxMessageSize matches the generous limit the Pulumi engine uses for its own channels.
const maxMessageSize = 400 * 1024 * 1024

// hostArgs are the command-line arguments the engine passes to a language plugin:
// optional logging/tracing flags followed by the engine address as the last positional.
type hostArgs struct {
	engineAddress string
	tracing       string
	verbose       string
	logToStderr   bool
}

func parseArgs(argv []string) (hostArgs, error) {
	var a hostArgs
	var positional []string
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		if arg == "--" {
			positional = append(positional, argv[i+1:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "logtostderr", "logflow":
			a.logToStderr = !hasValue || value == "true"
		case "v":
			a.verbose = value
		case "tracing", "root", "tsconfig", "nodeargs", "typescript", "packagemanager":
			// Flags that take a value; only tracing matters to us (the rest come from
			// ProgramInfo.Options nowadays), but accept both "-f v" and "-f=v".
			if !hasValue && name != "typescript" {
				if i+1 >= len(argv) {
					return a, fmt.Errorf("flag %s needs a value", arg)
				}
				i++
				value = argv[i]
			}
			if name == "tracing" {
				a.tracing = value
			}
		default:
			// Unknown boolean-ish flags are ignored so that a newer engine cannot break us.
		}
	}
	if len(positional) > 0 {
		a.engineAddress = positional[len(positional)-1]
	}
	return a, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("pulumi-language-nodejs: ")
	args, err := parseArgs(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	h := newHost(args.engineAddress, args.tracing)
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	pulumirpc.RegisterLanguageRuntimeServer(srv, h)

	// The engine reads exactly one line from stdout: our port.
	fmt.Fprintf(os.Stdout, "%d\n", lis.Addr().(*net.TCPAddr).Port)

	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		<-sigs
		h.stopAll()
		srv.Stop()
		os.Exit(0)
	}()
	go watchParent(func() {
		h.stopAll()
		srv.Stop()
		os.Exit(0)
	})

	if err := srv.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}

// watchParent calls stop once the process that started us (the engine) has gone away, so a
// killed `pulumi` never leaves a language host behind.
func watchParent(stop func()) {
	parent := os.Getppid()
	for {
		time.Sleep(time.Second)
		if os.Getppid() != parent {
			stop()
			return
		}
	}
}
