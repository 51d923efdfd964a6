// Package power serves the guest power operations: power.halt,
// power.reboot and power.suspend.
//
// The reply goes out before the guest goes down: the handler answers,
// then the Actions run after a short delay, so a host sees OK rather than
// a dropped connection. The default actions do the right thing both when
// the agent is PID 1 in an initramfs (sync, then reboot(2) directly,
// since there is no init to ask) and when it runs as a service (ask the
// system's init through poweroff/reboot). Hooks registered by the
// embedding program run first, e.g. to flush its own state.
package power
