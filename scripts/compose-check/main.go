// compose-check loads a Compose file with compose-go, the loader `docker compose` itself uses:
// YAML, the Compose JSON schema, variable interpolation, anchors and merges, and the model's own
// consistency checks (depends_on targets, volumes). It needs no Docker engine, which this project's
// machines don't have. Prints the resolved project as JSON (what `docker compose config` would
// show); exits 1 with the loader's error otherwise.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check docker-compose.yml")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions([]string{os.Args[1]}, cli.WithOsEnv, cli.WithName("onnx-export-pipeline"),
		// Every profile, so services behind one (worker-secured) are checked too.
		cli.WithProfiles([]string{"*"}))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
