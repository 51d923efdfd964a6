// Package power changes the guest's power state: the guest-side Service
// serves power.halt, power.reboot and power.suspend, and the host-side
// Client calls them.
//
// NewService is for programs that assemble their own rpc.Server:
// Register adds the methods, Close cancels what is still pending.
// agent.New registers a Service for you (agent.Config.Power sets its
// Options). NewClient is for hosts: Client.Halt, Reboot and Suspend.
//
// # Methods
//
//	power.halt     args: {"delay": "5s"} (optional); powers the guest off
//	power.reboot   args: as power.halt
//	power.suspend  args: as power.halt; suspends to RAM
//
// The reply goes out before the guest goes down: the handler answers,
// then the action runs after a delay (the request's, at most 1h, or
// Options.Delay), so a host sees OK rather than a dropped connection. An
// operation the platform cannot do is refused with Unimplemented;
// Default and Supported say what this platform can do, and Default's
// error for the rest wraps errors.ErrUnsupported.
//
// The default actions do the right thing both when the agent is PID 1 in
// an initramfs (sync, then reboot(2) directly, since there is no init to
// ask) and when it runs as a service (ask the system's init through
// poweroff/reboot). Options.Before, a hook of the embedding program,
// runs first, e.g. to flush its own state; Options.Act replaces the
// action itself.
package power
