// Package toolbox is the guest side of VMware Tools on the one
// dispatcher: the TCLO commands a VMX sends (reset, ping,
// Capabilities_Register, Set_Option, OS_Halt and the other power
// operations) as toolbox.* methods of an rpc.Server, answering as
// open-vm-tools does, and the RPCI requests it sends back (capabilities,
// the tools version, guestinfo.ip, state-change status).
//
// backdoor.ListenTCLO carries the commands in; Options.RPCI (a
// *backdoor.RPCI) carries the requests out. The handlers do not know
// which transport carried a call. Serve TCLO under Policy, so that only
// these methods are reachable from the VMX.
//
// Guest network information (SetGuestInfo 10, the primary IP) comes
// from the PrimaryIP and SendNicInfo hooks, which package nicinfo
// provides. VIX (Vix_1_Relayed_Command) is served when Options.VIX is
// set; without it the VMX gets "ERROR Unknown Command", as from a guest
// without the VIX plugin.
package toolbox
