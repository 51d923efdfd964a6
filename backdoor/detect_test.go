package backdoor

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// answering is a minimal Port that answers GETVERSION, or reads all ones.
type answering struct{ present bool }

func (a answering) InOut(r *Regs) {
	if a.present && uint16(r.CX) == CmdGetVersion {
		r.AX, r.BX, r.CX = 6, Magic, 2
		return
	}
	r.AX, r.BX, r.CX = 0xffffffff, 0xffffffff, 0xffffffff
}
func (answering) HighBandwidthOut(*Regs, []byte) {}
func (answering) HighBandwidthIn(*Regs, []byte)  {}
func (answering) Close() error                   { return nil }

func TestDetect(t *testing.T) {
	vendor := func(s string) (b, c, d uint32) {
		var w [12]byte
		copy(w[:], s)
		le := func(p []byte) uint32 { return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24 }
		return le(w[0:4]), le(w[4:8]), le(w[8:12])
	}
	tests := []struct {
		name      string
		hv        bool
		vendor    string
		port      Port
		portErr   error
		want      Detection
		wantErr   bool
		portTouch bool
	}{
		{name: "bare metal never touches ports", hv: false, want: Detection{}},
		{name: "qemu vmport=on", hv: true, vendor: "TCGTCGTCGTCG", port: answering{true}, portTouch: true,
			want: Detection{Hypervisor: true, Vendor: "TCGTCGTCGTCG", Backdoor: true, Version: 6, Product: 2}},
		{name: "qemu vmport=off", hv: true, vendor: "KVMKVMKVM", port: answering{false}, portTouch: true,
			want: Detection{Hypervisor: true, Vendor: "KVMKVMKVM"}},
		{name: "no privilege", hv: true, vendor: "VMwareVMware", portErr: errors.New("EPERM"), portTouch: true,
			want: Detection{Hypervisor: true, Vendor: "VMwareVMware"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			touched := false
			cpu := func(leaf uint32) (a, b, c, d uint32) {
				switch leaf {
				case 1:
					if tt.hv {
						c = 1 << 31
					}
				case 0x40000000:
					b, c, d = vendor(tt.vendor)
				}
				return
			}
			open := func() (Port, error) { touched = true; return tt.port, tt.portErr }
			got, err := detectWith(cpu, open)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("detection (-want +got):\n%s", diff)
			}
			if touched != tt.portTouch {
				t.Errorf("port opened = %v, want %v", touched, tt.portTouch)
			}
		})
	}
}
