package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/internal/bench"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/vmm"
	vq "github.com/guestrpc/guestrpc/vmm/qemu"
)

// rawPort is the name of the VM's second virtio-serial port, which the
// guest program rawport (internal/bench/rawport) serves with no protocol
// (bench.ServeRaw).
const rawPort = "org.guestrpc.bench.raw"

// vmBoot bounds a boot: TCG boots in seconds to a minute on a busy
// machine; a KVM guest that has not answered by then never will (nested
// KVM can hang in early boot).
const vmBoot = 3 * time.Minute

// qemuRows measures guestrpc over virtio-serial beside a raw copy over a
// port of the same kind in the same VM, under each accelerator that
// works here: TCG always, KVM when /dev/kvm opens. It returns no rows,
// and says why, when the QEMU lab is not set up.
func qemuRows(ctx context.Context, o *options, stderr io.Writer) ([]bench.Row, []string, error) {
	if _, err := vq.Ensure(ctx, false, func(string, ...any) {}); err != nil {
		return nil, []string{fmt.Sprintf("QEMU figures skipped: the lab is not set up (bash scripts/qemu-setup.sh): %v", err)}, nil
	}
	accels := []string{"tcg"}
	if vq.DetectAccel() == "kvm" {
		accels = append(accels, "kvm")
	}
	var rows []bench.Row
	var notes []string
	for _, accel := range accels {
		fmt.Fprintf(stderr, "QEMU (%s): booting a guest\n", accel)
		r, err := measureVM(ctx, o, accel, stderr)
		if err != nil {
			if accel == "kvm" {
				notes = append(notes, fmt.Sprintf("QEMU under KVM skipped: the guest did not answer (%v); nested KVM can hang a guest in early boot", err))
				continue
			}
			return nil, nil, fmt.Errorf("QEMU (%s): %w", accel, err)
		}
		rows = append(rows, r...)
	}
	return rows, notes, nil
}

// vmSubjects are what one VM's rounds measure: the agent and the raw port.
type vmSubjects struct {
	c     *rpc.Client
	fc    *files.Client
	raw   net.Conn
	data  []byte
	order *rand.Rand // draws each interleaved pass's order
}

// measureVM boots one VM, starts rawport in it and runs the rounds.
func measureVM(ctx context.Context, o *options, accel string, stderr io.Writer) ([]bench.Row, error) {
	bctx, cancel := context.WithTimeout(ctx, vmBoot)
	defer cancel()
	cfg := vq.Config{Config: vmm.Config{Ports: []string{rawPort}}, Accel: accel, Lifetime: 30 * time.Minute}
	guest := vq.Guest{Programs: map[string]string{"/bin/rawport": "./internal/bench/rawport"}}
	m, c, err := vq.Boot(bctx, cfg, guest, rpc.ClientOptions{Name: "guestrpc-bench"})
	if err != nil {
		return nil, err
	}
	defer func() { _ = m.Remove() }()
	defer func() { _ = m.Stop() }()
	defer c.Close()
	raw, err := (&net.Dialer{}).DialContext(bctx, "unix", m.PortSocket(rawPort))
	if err != nil {
		return nil, fmt.Errorf("the raw port: %w", err)
	}
	defer raw.Close()
	var rawErr bytes.Buffer
	p, err := process.NewClient(c).Start(bctx, process.Spec{Path: "/bin/rawport", Args: []string{rawPort}}, nil, nil, &rawErr)
	if err != nil {
		return nil, fmt.Errorf("starting rawport in the guest: %w", err)
	}
	defer func() { _ = p.Close() }()
	sub := &vmSubjects{c: c, fc: files.NewClient(c), raw: raw, data: make([]byte, o.qemuSizeMiB<<20), order: newOrder()}
	if err := sub.rawPings(bctx, 1); err != nil { // rawport is serving
		return nil, fmt.Errorf("rawport: %w (its stderr: %q)", err, rawErr.String())
	}
	// The file the downloads read, and a warm-up.
	if _, err := sub.fc.Upload(bctx, bytes.NewReader(sub.data), "/tmp/bench", files.WriteOptions{}); err != nil {
		return nil, fmt.Errorf("uploading the download's file: %w", err)
	}
	if err := sub.rawUpload('p', int64(len(sub.data))); err != nil {
		return nil, fmt.Errorf("rawport's download file: %w (its stderr: %q)", err, rawErr.String())
	}
	vm := newVMMeasured(accel, o.qemuSizeMiB)
	for r := range o.qemuRounds {
		fmt.Fprintf(stderr, "QEMU (%s): round %d/%d\n", accel, r+1, o.qemuRounds)
		if err := sub.round(ctx, vm, o.qemuPings); err != nil {
			return nil, fmt.Errorf("round %d: %w (rawport's stderr: %q)", r+1, err, rawErr.String())
		}
	}
	return vm.rows(), nil
}

// vmMeasured are one VM's series.
type vmMeasured struct {
	sysPing, ping, upload, uploadFile, download, downloadFile bench.Series
}

func newVMMeasured(accel string, mib int64) *vmMeasured {
	name := "virtio-serial, " + map[string]string{"tcg": "TCG", "kvm": "KVM"}[accel] + ": "
	raw := "floor: the same over a second virtio-serial port of the VM, served by a guest program that only reads and writes it"
	return &vmMeasured{
		sysPing: bench.Series{Name: name + "`sys.ping` call", Unit: "µs", Scale: 1e3, Note: raw + " (16-byte round trips)"},
		ping:    bench.Series{Name: name + "PING/PONG frames", Unit: "µs", Scale: 1e3, Note: raw + " (16-byte round trips)"},
		upload:  bench.Series{Name: name + fmt.Sprintf("upload %d MiB to a file", mib), Unit: "MB/s", Higher: true, Note: raw + " (bytes read and dropped); guestrpc writes a file on the guest's tmpfs"},
		uploadFile: bench.Series{Name: name + fmt.Sprintf("upload %d MiB to a file, floor writing one too", mib), Unit: "MB/s", Higher: true,
			Note: "the same guestrpc uploads; floor: the guest program writes what it reads from its port to a new file on the guest's tmpfs and fsyncs it, as the unix-socket upload floor does"},
		download: bench.Series{Name: name + fmt.Sprintf("download %d MiB from a file", mib), Unit: "MB/s", Higher: true, Note: raw + " (bytes written from memory); guestrpc reads a file on the guest's tmpfs"},
		downloadFile: bench.Series{Name: name + fmt.Sprintf("download %d MiB from a file, floor reading one too", mib), Unit: "MB/s", Higher: true,
			Note: "the same guestrpc downloads; floor: the guest program reads a file on the guest's tmpfs into a 256 KiB buffer and writes it to its port, a buffer at a time"},
	}
}

func (v *vmMeasured) rows() []bench.Row {
	return []bench.Row{v.sysPing.Row(), v.ping.Row(), v.upload.Row(), v.uploadFile.Row(), v.download.Row(), v.downloadFile.Row()}
}

// round measures n round trips of each kind beside raw round trips
// (agentPings), then one transfer each way per subject, in an order
// drawn afresh each round.
func (s *vmSubjects) round(ctx context.Context, v *vmMeasured, n int) error {
	var call, ping sample
	floor := func(dst *[]float64) timedOp {
		return timedOp{"raw round trip", func() error { return s.rawPings(ctx, 1) }, []*[]float64{dst}}
	}
	if err := agentPings(ctx, s.c, n, s.order, &call, &ping, floor); err != nil {
		return err
	}
	call.addTo(&v.sysPing, true)
	ping.addTo(&v.ping, true)
	return s.transfers(ctx, v)
}

func (s *vmSubjects) transfers(ctx context.Context, v *vmMeasured) error {
	size := int64(len(s.data))
	ops := []struct {
		dst []*[]float64
		fn  func() error
	}{
		{[]*[]float64{&v.upload.Guestrpc, &v.uploadFile.Guestrpc}, func() error {
			_, err := s.fc.Upload(ctx, bytes.NewReader(s.data), "/tmp/bench", files.WriteOptions{})
			return err
		}},
		{[]*[]float64{&v.upload.Floor}, func() error { return s.rawUpload('u', size) }},
		{[]*[]float64{&v.uploadFile.Floor}, func() error { return s.rawUpload('f', size) }},
		{[]*[]float64{&v.download.Guestrpc, &v.downloadFile.Guestrpc}, func() error {
			_, err := s.fc.Download(ctx, "/tmp/bench", io.Discard, files.ReadOptions{})
			return err
		}},
		{[]*[]float64{&v.download.Floor}, func() error { return s.rawDownload('d', size) }},
		{[]*[]float64{&v.downloadFile.Floor}, func() error { return s.rawDownload('g', size) }},
	}
	for _, op := range shuffled(s.order, ops) {
		d, err := timed(op.fn)
		if err != nil {
			return err
		}
		for _, dst := range op.dst {
			*dst = append(*dst, mbps(size, d))
		}
	}
	return nil
}

// rawJob sends rawport a job header.
func (s *vmSubjects) rawJob(op byte, n int64) error {
	hdr := bench.RawHeader(op, n)
	_, err := s.raw.Write(hdr[:])
	return err
}

// rawPings makes n 16-byte round trips through rawport; the header
// goes with the first.
func (s *vmSubjects) rawPings(ctx context.Context, n int) error {
	if d, ok := ctx.Deadline(); ok {
		_ = s.raw.SetDeadline(d)
		defer s.raw.SetDeadline(time.Time{})
	}
	var msg [9 + 16]byte
	hdr := bench.RawHeader('e', int64(n))
	copy(msg[:9], hdr[:])
	out := msg[:]
	var in [16]byte
	for i := range n {
		binary.BigEndian.PutUint64(msg[9:], uint64(i))
		if _, err := s.raw.Write(out); err != nil {
			return err
		}
		if _, err := io.ReadFull(s.raw, in[:]); err != nil {
			return err
		}
		if !bytes.Equal(in[:], msg[9:]) {
			return errors.New("rawport echoed other bytes")
		}
		out = msg[9:]
	}
	return nil
}

// rawUpload sends size bytes to rawport in job op ('u': dropped, 'f':
// written to a file, 'p': kept as its download file) and waits for its
// 'k'.
func (s *vmSubjects) rawUpload(op byte, size int64) error {
	if err := s.rawJob(op, size); err != nil {
		return err
	}
	if _, err := s.raw.Write(s.data[:size]); err != nil {
		return err
	}
	var k [1]byte
	if _, err := io.ReadFull(s.raw, k[:]); err != nil || k[0] != 'k' {
		return fmt.Errorf("rawport's acknowledgement %q: %w", k[:], err)
	}
	return nil
}

// rawDownload has rawport send size bytes in job op ('d': from memory,
// 'g': from its download file).
func (s *vmSubjects) rawDownload(op byte, size int64) error {
	if err := s.rawJob(op, size); err != nil {
		return err
	}
	n, err := io.CopyN(io.Discard, s.raw, size)
	if err != nil {
		return fmt.Errorf("after %d of %d bytes: %w", n, size, err)
	}
	return nil
}
