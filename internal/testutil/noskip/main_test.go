package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFilter reads go test -json from a module with a passing, a
// skipping and a failing package (with subtests), one without tests and
// one that does not build (testdata/events.json).
func TestFilter(t *testing.T) {
	f, err := os.Open("testdata/events.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	skips, err := filter(f, &out)
	if err != nil {
		t.Fatal(err)
	}
	wantSkips := []string{
		"example.com/sample/a TestSkip: a_test.go:7: no widget here",
		"example.com/sample/a TestParent/skipped: a_test.go:11: no gadget",
	}
	if diff := cmp.Diff(wantSkips, skips); diff != "" {
		t.Errorf("skips (-want +got):\n%s", diff)
	}
	// What plain go test prints, but a failed test's subtests come
	// before its own --- FAIL line.
	wantOut := "# example.com/sample/d [example.com/sample/d.test]\n" +
		"d/d_test.go:5:28: undefined: undefined\n" +
		"    b_test.go:6: shown because the test fails\n" +
		"    b_test.go:7: sub broke\n" +
		"--- FAIL: TestFail/sub (0.00s)\n" +
		"--- FAIL: TestFail (0.00s)\n" +
		"FAIL\n" +
		"ok  \texample.com/sample/a\t0.006s\n" +
		"FAIL\texample.com/sample/b\t0.004s\n" +
		"?   \texample.com/sample/c\t[no test files]\n" +
		"FAIL\texample.com/sample/d [build failed]\n"
	if diff := cmp.Diff(wantOut, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
