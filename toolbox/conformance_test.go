package toolbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestrpc/guestrpc/power"
	"github.com/guestrpc/guestrpc/toolbox"
)

// refuse answers "0 …" to requests starting with one of prefixes and
// "1 " to the rest.
func refuse(prefixes ...string) func([]byte) []byte {
	return func(req []byte) []byte {
		for _, p := range prefixes {
			if strings.HasPrefix(string(req), p) {
				return []byte("0 Unknown command")
			}
		}
		return []byte("1 ")
	}
}

// TestConformance: each TCLO command's reply and the RPCI requests it
// causes, byte for byte as open-vm-tools sends them
// (../shared/reference/vmware-tools.md, section 1).
func TestConformance(t *testing.T) {
	const (
		unifiedLoop = "vmx.capability.unified_loop toolbox\x00"
		versionLog  = "log toolbox: Version: 1.0.0.0\x00"
		optErr      = "ERROR Unknown or invalid option"
	)
	caps := []string{
		"tools.capability.statechange ",
		"tools.capability.softpowerop_retry ",
		"tools.capability.hgfs_server toolbox 1\x00",
		"tools.set.versiontype 2147483647 4\x00",
	}
	tests := []struct {
		name     string
		rpci     func([]byte) []byte
		commands []string
		replies  []string
		requests []string
		acts     []power.Op
	}{
		{name: "reset", commands: []string{"reset"}, replies: []string{"OK ATR toolbox"},
			requests: []string{unifiedLoop, versionLog}},
		{name: "reset twice logs the version once", commands: []string{"reset", "reset"},
			replies: []string{"OK ATR toolbox", "OK ATR toolbox"}, requests: []string{unifiedLoop, versionLog, unifiedLoop}},
		{name: "ping", commands: []string{"ping"}, replies: []string{"OK "}},
		{name: "ping with arguments", commands: []string{"ping x"}, replies: []string{"OK "}},
		{name: "capabilities", commands: []string{"Capabilities_Register"}, replies: []string{"OK "}, requests: caps},
		{name: "capabilities, old VMX", rpci: refuse("tools.set.versiontype"), commands: []string{"Capabilities_Register"},
			replies: []string{"OK "}, requests: append(caps[:4:4], "tools.set.version 2147483647\x00")},
		{name: "capabilities refused still OK", rpci: refuse("tools."), commands: []string{"Capabilities_Register"},
			replies: []string{"OK "}, requests: append(caps[:4:4], "tools.set.version 2147483647\x00")},
		{name: "broadcastIP 1", commands: []string{"Set_Option broadcastIP 1"}, replies: []string{"OK "},
			requests: []string{"info-set guestinfo.ip 192.0.2.10\x00"}},
		{name: "broadcastIP 1 refused", rpci: refuse("info-set"), commands: []string{"Set_Option broadcastIP 1"},
			replies: []string{optErr}, requests: []string{"info-set guestinfo.ip 192.0.2.10\x00"}},
		{name: "broadcastIP 0", commands: []string{"Set_Option broadcastIP 0"}, replies: []string{"OK "}},
		{name: "broadcastIP 2", commands: []string{"Set_Option broadcastIP 2"}, replies: []string{optErr}},
		{name: "broadcastIP, two spaces", commands: []string{"Set_Option broadcastIP  1"}, replies: []string{optErr}},
		{name: "leading spaces", commands: []string{"Set_Option   broadcastIP 0"}, replies: []string{"OK "}},
		{name: "option without value", commands: []string{"Set_Option broadcastIP", "Set_Option broadcastIP "},
			replies: []string{optErr, optErr}},
		{name: "no option", commands: []string{"Set_Option", "Set_Option ", "Set_Option  "}, replies: []string{optErr, optErr, optErr}},
		{name: "unknown option", commands: []string{"Set_Option synctime 1", "Set_Option enableDnD 1"}, replies: []string{optErr, optErr}},
		{name: "script options", commands: []string{"Set_Option toolScripts.afterPowerOn 1", "Set_Option toolScripts.beforePowerOff 0",
			"Set_Option toolScripts.afterResume 1", "Set_Option toolScripts.beforeSuspend 0", "Set_Option toolScripts.afterPowerOn yes"},
			replies: []string{"OK ", "OK ", "OK ", "OK ", optErr}},
		{name: "OS_Halt", commands: []string{"OS_Halt"}, replies: []string{"OK "},
			requests: []string{"tools.os.statechange.status 1 1\x00", "log Initiating halt.\x00"}, acts: []power.Op{power.Halt}},
		{name: "OS_Reboot", commands: []string{"OS_Reboot"}, replies: []string{"OK "},
			requests: []string{"tools.os.statechange.status 1 2\x00", "log Initiating reboot.\x00"}, acts: []power.Op{power.Reboot}},
		{name: "OS_PowerOn", commands: []string{"OS_PowerOn"}, replies: []string{"OK "}, requests: []string{"tools.os.statechange.status 1 3\x00"}},
		{name: "OS_Resume", commands: []string{"OS_Resume"}, replies: []string{"OK "}, requests: []string{"tools.os.statechange.status 1 4\x00"}},
		{name: "OS_Suspend", commands: []string{"OS_Suspend"}, replies: []string{"OK "}, requests: []string{"tools.os.statechange.status 1 5\x00"}},
		{name: "VIX not configured", commands: []string{"Vix_1_Relayed_Command \"x\"\x00abc"}, replies: []string{"ERROR Unknown Command"}},
		{name: "unknown", commands: []string{"Unknown_Thing 1", "os_halt"}, replies: []string{"ERROR Unknown Command", "ERROR Unknown Command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, tt.rpci, nil)
			var replies []string
			for _, c := range tt.commands {
				replies = append(replies, h.command(t, c))
			}
			if diff := cmp.Diff(tt.replies, replies); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			var acts []power.Op
			for range tt.acts {
				acts = append(acts, <-h.acts)
			}
			if diff := cmp.Diff(tt.acts, acts); diff != "" {
				t.Errorf("power actions (-want +got):\n%s", diff)
			}
			// The requests that follow a reset go out after its reply:
			// wait for them before Close cancels what is still pending.
			h.requests(t, len(tt.requests))
			h.svc.Close()
			if diff := cmp.Diff(tt.requests, h.vmx.Requests()); diff != "" {
				t.Errorf("RPCI requests (-want +got):\n%s", diff)
			}
		})
	}
}

// A second state change while the first has not acted is refused, and
// sends nothing.
func TestStateChangeInProgress(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, false, nil, func(o *toolbox.Options) {
		o.Power.Act = func(op power.Op) error { <-release; return nil }
	})
	want := []string{"OK ", "ERROR State change already in progress", "ERROR State change already in progress"}
	got := []string{h.command(t, "OS_Halt"), h.command(t, "OS_Reboot"), h.command(t, "OS_PowerOn")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	close(release)
	if diff := cmp.Diff([]string{"tools.os.statechange.status 1 1\x00", "log Initiating halt.\x00"}, h.vmx.Requests()); diff != "" {
		t.Errorf("RPCI requests (-want +got):\n%s", diff)
	}
}

// The startup report (mainLoop.c's ToolsCoreReportVersionData).
func TestStart(t *testing.T) {
	h := newHarness(t, false, nil, func(o *toolbox.Options) { o.Product, o.Version, o.Build = "guestrpc", "2.3.4", 56 })
	if err := h.svc.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"info-set guestinfo.vmtools.description guestrpc 2.3.4.56\x00",
		"info-set guestinfo.vmtools.versionString 2.3.4\x00",
		"info-set guestinfo.vmtools.versionNumber 2147483647\x00",
		"info-set guestinfo.vmtools.buildNumber 56\x00",
	}
	if diff := cmp.Diff(want, h.vmx.Requests()); diff != "" {
		t.Errorf("RPCI requests (-want +got):\n%s", diff)
	}
}

// The nicinfo hooks: broadcastIP 1 sends guestinfo.ip, then the network
// information; a failing PrimaryIP reports an empty address.
func TestNicInfoHooks(t *testing.T) {
	h := newHarness(t, true, nil, func(o *toolbox.Options) {
		o.PrimaryIP = func(context.Context) (string, error) { return "", fmt.Errorf("no address") }
		o.SendNicInfo = func(ctx context.Context, rpci toolbox.RPCI) error {
			_, err := rpci.Call(ctx, []byte("SetGuestInfo  10 \x00\x00\x00\x03"))
			return err
		}
	})
	if got := h.command(t, "Set_Option broadcastIP 1"); got != "OK " {
		t.Errorf("reply %q", got)
	}
	want := []string{"info-set guestinfo.ip \x00", "SetGuestInfo  10 \x00\x00\x00\x03"}
	if diff := cmp.Diff(want, h.vmx.Requests()); diff != "" {
		t.Errorf("RPCI requests (-want +got):\n%s", diff)
	}
}
