package backdoor

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Implemented in port_amd64.s.
func inout(r *Regs)
func hbout(r *Regs)
func hbin(r *Regs)
func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// ioPort runs every call on one OS thread whose I/O privilege level was
// raised with iopl(3): the privilege belongs to the thread, so the
// goroutine that owns it never unlocks, and the thread exits with it.
type ioPort struct {
	req       chan func()
	closeOnce sync.Once
}

// OpenPort returns the real backdoor port. It needs CAP_SYS_RAWIO (root)
// for iopl(3). Callers must know they run under a hypervisor: see Detect.
func OpenPort() (Port, error) {
	p := &ioPort{req: make(chan func())}
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Iopl(3); err != nil {
			errc <- fmt.Errorf("backdoor: iopl(3) for port access: %w (needs root / CAP_SYS_RAWIO)", err)
			return
		}
		errc <- nil
		for f := range p.req {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *ioPort) do(f func()) {
	done := make(chan struct{})
	p.req <- func() { f(); close(done) }
	<-done
}

func (p *ioPort) InOut(r *Regs) { p.do(func() { inout(r) }) }

func (p *ioPort) HighBandwidthOut(r *Regs, buf []byte) {
	if len(buf) == 0 {
		return
	}
	p.do(func() {
		r.SI = uint64(uintptr(unsafe.Pointer(&buf[0])))
		hbout(r)
		runtime.KeepAlive(buf)
	})
}

func (p *ioPort) HighBandwidthIn(r *Regs, buf []byte) {
	if len(buf) == 0 {
		return
	}
	p.do(func() {
		r.DI = uint64(uintptr(unsafe.Pointer(&buf[0])))
		hbin(r)
		runtime.KeepAlive(buf)
	})
}

func (p *ioPort) Close() error {
	p.closeOnce.Do(func() { close(p.req) })
	return nil
}

// Detect reports whether this machine runs under a hypervisor that
// answers the backdoor. It touches the I/O ports only when the CPU reports
// a hypervisor.
func Detect() (Detection, error) {
	return detectWith(func(leaf uint32) (a, b, c, d uint32) { return cpuid(leaf, 0) }, OpenPort)
}
