package toolbox

import (
	"fmt"
	"strconv"
)

// The RPCI requests, byte for byte as open-vm-tools sends them: most end
// with a NUL (OVT sends strlen+1); the old-style capabilities end with a
// space and no NUL.

// AppName is the TCLO application name (TOOLS_DAEMON_NAME).
const AppName = "toolbox"

// Tools version values (vm_tools_version.h).
const (
	VersionUnmanaged = 0x7fffffff // TOOLS_VERSION_UNMANAGED: the guest manages its tools
	TypeOVT          = 4          // TOOLS_TYPE_OVT
)

// maxLog caps a "log" request with its NUL (vmtoolsLog.c's 4096-byte buffer).
const maxLog = 4096

func nul(s string) []byte { return append([]byte(s), 0) }

func msgUnifiedLoop() []byte { return nul("vmx.capability.unified_loop " + AppName) }

func msgLog(text string) []byte {
	b := []byte("log " + text)
	if len(b) > maxLog-1 {
		b = b[:maxLog-1]
	}
	return append(b, 0)
}

func msgVersionLog(version string, build int) []byte {
	return msgLog(fmt.Sprintf("%s: Version: %s.%d", AppName, version, build))
}

// capability requests sent on Capabilities_Register, in order.
func msgCapabilities() [][]byte {
	return [][]byte{
		[]byte("tools.capability.statechange "),
		[]byte("tools.capability.softpowerop_retry "),
		nul("tools.capability.hgfs_server " + AppName + " 1"),
	}
}

func msgVersionType() []byte {
	return nul(fmt.Sprintf("tools.set.versiontype %d %d", VersionUnmanaged, TypeOVT))
}

func msgVersion() []byte { return nul(fmt.Sprintf("tools.set.version %d", VersionUnmanaged)) }

func msgGuestIP(ip string) []byte { return nul("info-set guestinfo.ip " + ip) }

func msgStateChange(ok bool, state int) []byte {
	b := 0
	if ok {
		b = 1
	}
	return nul(fmt.Sprintf("tools.os.statechange.status %d %d", b, state))
}

// msgVersionInfo is what OVT reports at startup (mainLoop.c).
func msgVersionInfo(product, version string, build int) [][]byte {
	const p = "info-set guestinfo.vmtools."
	return [][]byte{
		nul(p + "description " + product + " " + version + "." + strconv.Itoa(build)),
		nul(p + "versionString " + version),
		nul(p + "versionNumber " + strconv.Itoa(VersionUnmanaged)),
		nul(p + "buildNumber " + strconv.Itoa(build)),
	}
}
