package files

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTreeSymlinkSwaps runs each operation on "sw/secret" while another
// goroutine keeps exchanging sw, a directory inside the root, with a
// symlink to the directory beside the root (renameat2 RENAME_EXCHANGE,
// so sw always exists): whichever sw an operation resolves, nothing
// beside the root changes.
func TestTreeSymlinkSwaps(t *testing.T) {
	now := time.Now()
	ops := map[string]func(tr tree) error{
		"write": func(tr tree) error {
			f, err := tr.OpenFile("sw/secret", os.O_WRONLY|os.O_TRUNC, 0)
			if err == nil {
				f.WriteString("pwned")
				f.Close()
			}
			return err
		},
		"create": func(tr tree) error {
			f, err := tr.OpenFile("sw/new", os.O_WRONLY|os.O_CREATE, 0o644)
			return closeIf(f, err)
		},
		"chmod":   func(tr tree) error { return tr.Chmod("sw/secret", 0o777) },
		"chown":   func(tr tree) error { return tr.Chown("sw/secret", 4242, 4242) },
		"chtimes": func(tr tree) error { return tr.Chtimes("sw/secret", now, now) },
		"remove":  func(tr tree) error { return tr.Remove("sw/secret") },
		"rename":  func(tr tree) error { return tr.Rename("sw/secret", "moved") },
		"link":    func(tr tree) error { return tr.Link("sw/secret", "linked") },
		"mkdir":   func(tr tree) error { return tr.Mkdir("sw/newdir", 0o755) },
		"symlink": func(tr tree) error { return tr.Symlink("f", "sw/sym") },
		"meta": func(tr tree) error {
			m, err := tr.OpenMeta("sw/secret", true)
			if err == nil {
				m.Chmod(0o777)
				m.Close()
			}
			return err
		},
	}
	for _, tc := range treeCases() {
		for name, op := range ops {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				root, outside := escapeRoot(t)
				sw, other := filepath.Join(root, "sw"), filepath.Join(root, "swx")
				if err := os.Mkdir(sw, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, other); err != nil {
					t.Fatal(err)
				}
				inside, err := os.Open(sw) // the directory, wherever the swaps move it
				if err != nil {
					t.Fatal(err)
				}
				defer inside.Close()
				tr := tc.open(t, root)
				defer tr.Close()
				before := outsideState(t, outside)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if err := unix.Renameat2(unix.AT_FDCWD, sw, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE); err != nil {
							t.Errorf("exchange: %v", err)
							return
						}
					}
				}()
				var escapes, done int
				// At least 500 attempts, and more until one met the
				// symlink: on a loaded machine the exchanging goroutine
				// may not run at all during the first few hundred.
				for i := 0; i < 500 || (escapes == 0 && i < 200000); i++ {
					// Put the inside file back for the next attempt, by
					// descriptor: sw may be the symlink by now.
					if fd, err := unix.Openat(int(inside.Fd()), "secret", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600); err == nil {
						unix.Write(fd, []byte("inside"))
						unix.Close(fd)
					}
					err := op(tr)
					switch {
					case err == nil:
						done++
					case isEscape(err):
						escapes++
					}
				}
				close(stop)
				wg.Wait()
				if after := outsideState(t, outside); after != before {
					t.Fatalf("beside the root: %s -> %s", before, after)
				}
				t.Logf("%d done inside, %d refused as escapes", done, escapes)
				if escapes == 0 {
					t.Error("no attempt met the symlink: the race was not exercised")
				}
			})
		}
	}
}

func closeIf(f *os.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}
