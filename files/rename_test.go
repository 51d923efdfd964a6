package files_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// TestRenameNoReplace: a rename that must not replace fails with
// AlreadyExists on anything at newpath, a dangling symlink and an empty
// directory included, and leaves both names as they were; with nothing
// there it renames. Both trees serve it.
func TestRenameNoReplace(t *testing.T) {
	ctx := context.Background()
	for _, svc := range []struct {
		name string
		new  func(files.Options) (*files.Service, error)
	}{{"default", files.NewService}, {"portable", files.NewPortableService}} {
		for _, tc := range []struct {
			name     string
			from, to string
			code     rpc.Code
			want     map[string]string // the tree's files and links after it
		}{
			{name: "onto nothing", from: "a", to: "new", code: rpc.OK,
				want: map[string]string{"new": "a", "b": "b", "empty/": "", "dangling": "-> nowhere"}},
			{name: "onto a file", from: "a", to: "b", code: rpc.AlreadyExists},
			{name: "onto an empty directory", from: "a", to: "empty", code: rpc.AlreadyExists},
			{name: "onto a dangling symlink", from: "a", to: "dangling", code: rpc.AlreadyExists},
			{name: "a directory onto a file", from: "empty", to: "b", code: rpc.AlreadyExists},
			{name: "from nothing", from: "nope", to: "new", code: rpc.NotFound},
			{name: "outside the root", from: "a", to: "../escaped", code: rpc.PermissionDenied},
		} {
			t.Run(svc.name+"/"+tc.name, func(t *testing.T) {
				e := newEnvWith(t, files.Options{}, svc.new)
				e.put(t, "a", "a")
				e.put(t, "b", "b")
				if err := os.Mkdir(filepath.Join(e.root, "empty"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("nowhere", filepath.Join(e.root, "dangling")); err != nil {
					t.Fatal(err)
				}
				err := e.c.RenameNoReplace(ctx, tc.from, tc.to)
				wantCode(t, "RenameNoReplace", err, tc.code)
				if tc.code == rpc.AlreadyExists && !errors.Is(err, fs.ErrExist) {
					t.Errorf("error %v does not match fs.ErrExist", err)
				}
				want := tc.want
				if want == nil {
					want = map[string]string{"a": "a", "b": "b", "empty/": "", "dangling": "-> nowhere"}
				}
				if diff := cmp.Diff(want, treeOf(t, e.root)); diff != "" {
					t.Errorf("the tree after it (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestRenameNoReplaceReadOnly: a read-only agent refuses it.
func TestRenameNoReplaceReadOnly(t *testing.T) {
	e := newEnv(t, files.Options{ReadOnly: true})
	e.put(t, "a", "a")
	wantCode(t, "RenameNoReplace", e.c.RenameNoReplace(context.Background(), "a", "b"), rpc.PermissionDenied)
}

// TestRenameNoReplaceRace: of several renames racing to one name, exactly
// one wins and the others fail with AlreadyExists, their sources kept. A
// check followed by a rename lets several through, each replacing the
// last. Only the openat2 tree renames in one step (RENAME_NOREPLACE).
func TestRenameNoReplaceRace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the rename that refuses to replace in one step is renameat2, on Linux; elsewhere the agent checks first")
	}
	e := newEnv(t, files.Options{})
	if kind := files.TreeKind(e.svc); kind != "*files.beneathTree" {
		t.Skipf("the service resolves with %s, which checks before it renames (no openat2 here)", kind)
	}
	ctx := context.Background()
	const racers = 8
	for round := range 30 {
		target := fmt.Sprintf("target%d", round)
		for i := range racers {
			e.put(t, fmt.Sprintf("src%d-%d", round, i), fmt.Sprint(i))
		}
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { errs[i] = e.c.RenameNoReplace(ctx, fmt.Sprintf("src%d-%d", round, i), target) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both renamed onto %s", round, winner, i, target)
			case err == nil:
				winner = i
			case rpc.CodeOf(err) != rpc.AlreadyExists:
				t.Fatalf("round %d: racer %d: %v, want AlreadyExists", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer renamed: %v", round, errs)
		}
		if got := e.get(t, target); got != fmt.Sprint(winner) {
			t.Fatalf("round %d: %s holds racer %s's file, but racer %d won", round, target, got, winner)
		}
		for i := range racers {
			_, err := os.Lstat(filepath.Join(e.root, fmt.Sprintf("src%d-%d", round, i)))
			if gone := errors.Is(err, fs.ErrNotExist); gone != (i == winner) {
				t.Fatalf("round %d: racer %d's source gone=%v (winner %d)", round, i, gone, winner)
			}
		}
	}
}

// treeOf maps the names directly in dir to a file's content, "" for a
// directory (named with a trailing slash) and "-> target" for a symlink.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		switch {
		case ent.Type()&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			out[ent.Name()] = "-> " + to
		case ent.IsDir():
			out[ent.Name()+"/"] = ""
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[ent.Name()] = string(b)
		}
	}
	return out
}
