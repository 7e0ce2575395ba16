// composecheck loads docker-compose.yml (alone, and with docker-compose.secure.yml) with
// compose-go, the loader `docker compose` itself uses, and fails on any error or warning.
// Required variables (${VAR:?...}) get placeholder values unless set, so a fresh clone
// checks; one load without MEDIAMON_WEB_TOKEN must fail, so the guards stay in place.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/sirupsen/logrus"
)

var required = regexp.MustCompile(`\$\{([A-Z0-9_]+):\?`)

func load(files []string, env map[string]string) (int, error) {
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory("."),
		cli.WithEnv(mapToList(env)),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return 0, err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return 0, err
	}
	return len(project.Services), nil
}

func mapToList(env map[string]string) []string {
	out := []string{}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func main() {
	var logged bytes.Buffer
	logrus.SetOutput(&logged)
	logrus.SetLevel(logrus.WarnLevel)
	projects := [][]string{{"docker-compose.yml"}, {"docker-compose.yml", "docker-compose.secure.yml"}}
	env := map[string]string{}
	for _, files := range projects {
		for _, f := range files {
			text, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			for _, m := range required.FindAllStringSubmatch(string(text), -1) {
				if v, ok := os.LookupEnv(m[1]); ok {
					env[m[1]] = v
				} else {
					env[m[1]] = "placeholder-" + strings.ToLower(m[1])
				}
			}
		}
	}
	failed := false
	for _, files := range projects {
		n, err := load(files, env)
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose FAILED: %s: %v\n", strings.Join(files, " + "), err)
			failed = true
		} else if logged.Len() > 0 {
			fmt.Fprintf(os.Stderr, "compose FAILED: %s: warnings:\n%s", strings.Join(files, " + "), logged.String())
			failed = true
		} else {
			fmt.Printf("compose ok: %s (%d services)\n", strings.Join(files, " + "), n)
		}
		logged.Reset()
	}
	without := map[string]string{}
	for k, v := range env {
		if k != "MEDIAMON_WEB_TOKEN" {
			without[k] = v
		}
	}
	if _, err := load(projects[0], without); err == nil {
		fmt.Fprintln(os.Stderr, "compose FAILED: docker-compose.yml loads without MEDIAMON_WEB_TOKEN: its ${VAR:?} guard is gone")
		failed = true
	} else {
		fmt.Println("compose ok: a missing MEDIAMON_WEB_TOKEN is refused")
	}
	if failed {
		os.Exit(1)
	}
}
