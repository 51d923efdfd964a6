package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/rpc"
)

// guestPrefix marks the guest side of a cp argument, as in docker cp.
const guestPrefix = "guest:"

// runCp copies files and directory trees between the host and the guest:
//
//	guestrpc cp [-r] [-z] SRC DST
//
// Exactly one of SRC and DST starts with "guest:". "-" is stdin as SRC
// and stdout as DST. A DST that is an existing directory (or ends in
// "/") receives SRC under its own name. Directories need -r and travel
// as a tar stream (-z gzips it). Files are written atomically on both
// sides and verified with sha256 end to end.
func runCp(ctx context.Context, c *rpc.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fset := flag.NewFlagSet("cp", flag.ContinueOnError)
	fset.SetOutput(stderr)
	recursive := fset.Bool("r", false, "copy directories recursively (as a tar stream)")
	gz := fset.Bool("z", false, "gzip directory streams (for slow links)")
	checksum := fset.Bool("checksum", true, "verify file contents with sha256 end to end")
	quiet := fset.Bool("q", false, "no progress bar")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: guestrpc cp [-r] [-z] SRC DST\n\nOne of SRC and DST starts with guest: (the guest side); - is stdin or stdout.\n\nflags:")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return 2, err
	}
	if fset.NArg() != 2 {
		fset.Usage()
		return 2, fmt.Errorf("want SRC and DST, got %d arguments %q", fset.NArg(), fset.Args())
	}
	src, dst := fset.Arg(0), fset.Arg(1)
	srcGuest, dstGuest := strings.HasPrefix(src, guestPrefix), strings.HasPrefix(dst, guestPrefix)
	if srcGuest == dstGuest {
		return 2, fmt.Errorf("cp %q %q: exactly one side must start with %q", src, dst, guestPrefix)
	}
	cp := &copier{
		fc: files.NewClient(c), recursive: *recursive, gz: *gz, checksum: *checksum,
		stdin: stdin, stdout: stdout, progress: newProgress(stderr, *quiet),
	}
	var err error
	if dstGuest {
		err = cp.upload(ctx, src, strings.TrimPrefix(dst, guestPrefix))
	} else {
		err = cp.download(ctx, strings.TrimPrefix(src, guestPrefix), dst)
	}
	cp.progress.finish(err == nil)
	if err != nil {
		return 1, err
	}
	return 0, nil
}

type copier struct {
	fc        *files.Client
	recursive bool
	gz        bool
	checksum  bool
	stdin     io.Reader
	stdout    io.Writer
	progress  *progress
}

// upload copies the host path src (or stdin) to the guest path dst.
func (cp *copier) upload(ctx context.Context, src, dst string) error {
	if src == "-" {
		if strings.HasSuffix(dst, "/") {
			return fmt.Errorf("cp - %s: stdin needs a file name on the guest", dst)
		}
		cp.progress.start("stdin", -1)
		_, err := cp.fc.Upload(ctx, cp.progress.reader(cp.stdin), dst, files.WriteOptions{Checksum: cp.checksum})
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	target, err := cp.guestTarget(ctx, dst, filepath.Base(src))
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if !cp.recursive {
			return fmt.Errorf("cp %s: is a directory (use -r)", src)
		}
		root, err := os.OpenRoot(src)
		if err != nil {
			return err
		}
		defer root.Close()
		pr, pw := io.Pipe()
		go func() {
			_, err := files.WriteArchive(ctx, pw, root, files.ArchiveOptions{Gzip: cp.gz})
			pw.CloseWithError(err)
		}()
		cp.progress.start(src, -1)
		_, err = cp.fc.ArchivePut(ctx, cp.progress.reader(pr), target, files.ArchiveOptions{Gzip: cp.gz})
		pr.CloseWithError(errors.New("cp: upload ended"))
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	cp.progress.start(src, fi.Size())
	_, err = cp.fc.Upload(ctx, cp.progress.reader(f), target, files.WriteOptions{Mode: fi.Mode().Perm(), Checksum: cp.checksum})
	return err
}

// guestTarget is dst, or dst/name when dst is a guest directory.
func (cp *copier) guestTarget(ctx context.Context, dst, name string) (string, error) {
	if strings.HasSuffix(dst, "/") {
		return path.Join(dst, name), nil
	}
	fi, err := cp.fc.Stat(ctx, dst)
	switch {
	case err == nil && fi.IsDir():
		return path.Join(dst, name), nil
	case err == nil || errors.Is(err, fs.ErrNotExist):
		return dst, nil
	}
	return "", err
}

// download copies the guest path src to the host path dst (or stdout).
func (cp *copier) download(ctx context.Context, src, dst string) error {
	fi, err := cp.fc.Stat(ctx, src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if !cp.recursive {
			return fmt.Errorf("cp guest:%s: is a directory (use -r)", src)
		}
		if dst == "-" {
			cp.progress.start(src, -1)
			_, err := cp.fc.ArchiveGet(ctx, src, cp.progress.writer(cp.stdout), files.ArchiveOptions{Gzip: cp.gz})
			return err
		}
		target := hostTarget(dst, path.Base(src))
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		root, err := os.OpenRoot(target)
		if err != nil {
			return err
		}
		defer root.Close()
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := files.ExtractArchive(ctx, pr, root, files.ExtractOptions{Gzip: cp.gz})
			pr.CloseWithError(err)
			done <- err
		}()
		cp.progress.start(src, -1)
		_, err = cp.fc.ArchiveGet(ctx, src, cp.progress.writer(pw), files.ArchiveOptions{Gzip: cp.gz})
		pw.CloseWithError(err)
		if xerr := <-done; err == nil {
			err = xerr
		}
		return err
	}
	if dst == "-" {
		cp.progress.start(src, fi.Size)
		_, err := cp.fc.Download(ctx, src, cp.progress.writer(cp.stdout), files.ReadOptions{Checksum: cp.checksum})
		return err
	}
	return cp.downloadFile(ctx, src, hostTarget(dst, path.Base(src)), fi)
}

// downloadFile writes the guest file src to the host file target
// atomically: a temporary file beside it, renamed over it when whole.
func (cp *copier) downloadFile(ctx context.Context, src, target string, fi *files.FileInfo) error {
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".guestrpc-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	defer tmp.Close()
	cp.progress.start(src, fi.Size)
	if _, err := cp.fc.Download(ctx, src, cp.progress.writer(tmp), files.ReadOptions{Checksum: cp.checksum}); err != nil {
		return err
	}
	if err := tmp.Chmod(fi.Mode.Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), time.Now(), fi.ModTime); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// hostTarget is dst, or dst/name when dst is a host directory.
func hostTarget(dst, name string) string {
	if strings.HasSuffix(dst, string(filepath.Separator)) {
		return filepath.Join(dst, name)
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return filepath.Join(dst, name)
	}
	return dst
}

// progress draws a progress line (bytes, percent, rate, ETA) on stderr
// when stderr is a terminal; otherwise it stays silent.
type progress struct {
	w     io.Writer // nil: no progress
	name  string
	total int64 // -1 when unknown
	done  atomic.Int64
	began time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newProgress(stderr io.Writer, quiet bool) *progress {
	p := &progress{}
	if f, ok := stderr.(*os.File); ok && !quiet {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.w = stderr
		}
	}
	return p
}

func (p *progress) start(name string, total int64) {
	p.name, p.total, p.began = name, total, time.Now()
	if p.w == nil {
		return
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw(false)
			case <-p.stop:
				return
			}
		}
	}()
}

func (p *progress) finish(ok bool) {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
	if ok {
		p.draw(true)
	}
	fmt.Fprintln(p.w)
}

func (p *progress) draw(final bool) {
	n := p.done.Load()
	secs := time.Since(p.began).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	line := fmt.Sprintf("%s  %s  %s/s", p.name, size(n), size(int64(rate)))
	if p.total > 0 {
		line += fmt.Sprintf("  %3.0f%%", 100*float64(n)/float64(p.total))
		if !final && rate > 0 && n < p.total {
			eta := time.Duration(float64(p.total-n) / rate * float64(time.Second)).Round(time.Second)
			line += "  ETA " + eta.String()
		}
	}
	fmt.Fprintf(p.w, "\r%-70s", line)
}

func (p *progress) reader(r io.Reader) io.Reader { return &countingReader{r, &p.done} }
func (p *progress) writer(w io.Writer) io.Writer { return &countingWriter{w, &p.done} }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// size formats a byte count with a binary unit.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
