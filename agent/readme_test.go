package agent_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMESnippets checks that every line of README.md's Go snippets,
// but the "{ ... }" placeholders, appears in readme_example_test.go, in
// order, so that the README shows code that compiles.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("readme_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, l := range strings.Split(string(src), "\n") {
		have = append(have, strings.TrimSpace(l))
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go snippets")
	}
	for _, b := range blocks {
		i := 0
		for _, l := range strings.Split(b[1], "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.Contains(l, "...") {
				continue
			}
			for i < len(have) && have[i] != l {
				i++
			}
			if i == len(have) {
				t.Errorf("README.md line %q is not (in order) in readme_example_test.go", l)
				break
			}
		}
	}
}
