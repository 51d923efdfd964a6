// Package hgfs is the HGFS (Host/Guest File System) service that VMware
// hosts use to move files in and out of a guest: the VMX turns the
// vSphere API's InitiateFileTransferToGuest/FromGuest into HGFS packets
// that the guest's tools answer.
//
// NewService is for programs that assemble their own rpc.Server; the
// agent (agent.New) registers it for you, under the file.* service's
// policy. Register exposes it as the rpc method hgfs.packet, so a VMware
// toolbox routing VIX HGFS requests, or a host that speaks HGFS itself,
// reaches it over any transport. NewClient is for host programs: its Do
// sends one request packet and returns the reply packet. A caller with
// packets but no rpc connection (a VMware backdoor) uses
// Service.Dispatch, or a Conn per peer (Service.NewConn).
//
// Dispatch takes one request packet and always returns one reply packet.
// Both header formats are understood: the legacy 8-byte request header
// and the 52-byte header of protocol version 4 (op 0xff in the second
// word). Every field is read with bounds checks against the packet,
// packets larger than the protocol allows are refused, and a malformed
// packet gets an HGFS error status (PROTOCOL_ERROR), never a panic. The
// operations served are CreateSessionV4, DestroySessionV4, Open
// (legacy), OpenV3, ReadV3, WriteV3, Close, CloseV3, GetattrV2 and
// SetattrV2; others are answered OPERATION_NOT_SUPPORTED. The constants
// (Op, Status, the open modes and flags, the attribute masks) are the
// protocol's, from open-vm-tools' hgfsProto.h.
//
// File names arrive in the protocol's cross-platform form (components
// separated by NUL) and become slash paths. A name whose first
// component is "SCHEME:" with a registered FileHandler goes to that
// handler as a URL: "archive:/var/log?format=tar" serves /var/log as a
// tar stream. Two handlers come registered: "file", the default for
// plain names, which serves regular files (reading files that report
// size 0, such as /proc's, to learn their real size), and "archive",
// which reads a directory as tar.gz and extracts one written to it.
// Service.HandleScheme adds or replaces one.
//
// Both handlers obey a files.Policy (Options.Files; share the file.*
// service's): names are confined beneath its root, read-only mode
// refuses writes and setattr, and the hard-link and regular-file rules
// hold, so HGFS reaches exactly what file.* reaches. A refusal is
// ACCESS_DENIED. GetattrV2 of an archive reports size 0 (unknown until
// built) rather than building it; every operation takes its caller's
// context and gives up with it.
//
// Sessions and open files belong to a Conn, one per peer: Register
// gives each rpc connection its own, released when the connection ends;
// handles are numbered per Conn, so no peer can reach another's files.
// Sessions and handles per Conn and open files across Conns are capped
// (Options).
package hgfs
