package vix

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/guestrpc/guestrpc/files"
	"github.com/guestrpc/guestrpc/hgfs"
	"github.com/guestrpc/guestrpc/process"
	"github.com/guestrpc/guestrpc/rpc"
)

// Credential is what a request carries to identify the guest user.
type Credential struct {
	// Type is the userCredentialType (vixCommands.h): 1 name and
	// password, 4 the same obfuscated, 8 a named interactive user; the
	// others come with Name and Password empty.
	Type     uint32
	Name     string
	Password string
}

// Authenticator decides whether a credential may run an op. It returns
// the guest user that programs run as ("" for the agent's own user).
type Authenticator func(ctx context.Context, c Credential) (user string, err error)

// TrustVMX accepts every credential, as govmomi's toolbox does: whoever
// controls the VMX (a vSphere user with guest-operation rights) runs ops
// as the agent. Programs run as the agent's user.
func TrustVMX(context.Context, Credential) (string, error) { return "", nil }

// ErrNoAuthenticator is the default refusal.
var ErrNoAuthenticator = errors.New("vix: no authenticator configured: set vix.Options.Authenticate, or run guestrpc-agent with --vmware-trust-vix to trust the VMX")

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// Client is a connection to the agent's rpc.Server, on which the
	// ops run (process.*, file.*, hgfs.packet). Required.
	Client *rpc.Client
	// Authenticate vets each op's credential; nil refuses every op but
	// GetToolsState with AUTH_FAIL.
	Authenticate Authenticator
	// Product and Version name the tools in GetToolsState (default
	// "guestrpc", "1.0.0").
	Product, Version string
	// OSName, OSNameFull and GuestName fill GetToolsState (default: ID
	// and PRETTY_NAME of /etc/os-release, the host name).
	OSName, OSNameFull, GuestName string
	// Environ is ReadEnvVariables' environment (default os.Environ).
	Environ func() []string
	// ProcessIO serves the stdin, stdout and stderr of each program
	// StartProgram starts as the files /proc/<pid>/stdin, stdout and
	// stderr (see Server.ProcessIO), each buffered up to ProcessIOMax
	// bytes (default 1 MiB): a program whose output is not read waits
	// once its buffer is full. Without it a program's stdio is
	// /dev/null, as with OVT.
	ProcessIO    bool
	ProcessIOMax int
	// GoFuncs names Go functions registered with the agent's process
	// service (process.Service.RegisterFunc) that StartProgram runs when
	// its program path is one of these names; the arguments are the
	// function's one argument. Such a process gets a pseudo pid above
	// 2^23.
	GoFuncs []string
	// MaxExited bounds the exited programs kept for ListProcessesEx
	// (default 256; the oldest go first).
	MaxExited int
}

// Server serves VIX requests. Safe for concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	fc    *files.Client
	hc    *hgfs.Client
	pc    *process.Client
	ctx   context.Context // ends with Close: started programs are killed
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	procs *procTable
	pages *pageCache
}

// ErrNoClient is returned by New without Options.Client.
var ErrNoClient = errors.New("vix: Options.Client is required")

// New returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Client == nil {
		return nil, ErrNoClient
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Product == "" {
		opts.Product = "guestrpc"
	}
	if opts.Version == "" {
		opts.Version = "1.0.0"
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	if opts.OSName == "" || opts.OSNameFull == "" {
		short, full := osNames()
		opts.OSName, opts.OSNameFull = cmp.Or(opts.OSName, short), cmp.Or(opts.OSNameFull, full)
	}
	if opts.GuestName == "" {
		opts.GuestName, _ = os.Hostname()
	}
	if opts.ProcessIOMax <= 0 {
		opts.ProcessIOMax = 1 << 20
	}
	if opts.MaxExited <= 0 {
		opts.MaxExited = 256
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{opts: opts, log: opts.Logger, fc: files.NewClient(opts.Client),
		hc: hgfs.NewClient(opts.Client),
		pc: process.NewClient(opts.Client), ctx: ctx, stop: stop,
		procs: newProcTable(opts.MaxExited), pages: newPageCache()}, nil
}

// Close kills the programs still running and waits for them.
func (s *Server) Close() error {
	s.stop()
	s.mu.Lock()
	for _, e := range s.procs.running {
		if e.io != nil {
			e.io.abandon()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Handle serves one Vix_1_Relayed_Command: args are the TCLO
// arguments, the result is the reply after "OK ". It never fails: a bad
// request gets its VixError.
func (s *Server) Handle(ctx context.Context, args []byte) ([]byte, error) {
	req, ok := parseRequest(splitArgs(args))
	if !ok {
		return formatReply(ErrBadHeader, 0, nil, false), nil
	}
	binary := req.CommonFlags&flagBinaryResult != 0
	result, err := s.dispatch(ctx, &req)
	if err != nil {
		code, errno := toVIX(err)
		s.log.Debug("vix: op failed", "op", req.OpCode, "code", code, "error", err)
		return formatReply(code, errno, nil, binary), nil
	}
	if len(result) > maxResult {
		return formatReply(ErrNoMem, 0, nil, binary), nil
	}
	return formatReply(OK, 0, result, binary), nil
}

type opFunc func(s *Server, ctx context.Context, req *request, user string) ([]byte, error)

// opFor is the op that serves code, or nil.
func opFor(code uint32) opFunc {
	switch code {
	case OpStartProgram:
		return (*Server).startProgram
	case OpListProcessesEx:
		return (*Server).listProcesses
	case OpTerminateProcess:
		return (*Server).terminateProcess
	case OpReadEnvVariables:
		return (*Server).readEnv
	case OpCreateTempFileEx:
		return (*Server).createTemp
	case OpCreateTempDir:
		return (*Server).createTemp
	case OpDeleteFileEx:
		return (*Server).deleteFile
	case OpDeleteDirectoryEx:
		return (*Server).deleteDir
	case OpCreateDirectoryEx:
		return (*Server).createDir
	case OpMoveFileEx:
		return (*Server).move
	case OpMoveDirectory:
		return (*Server).move
	case OpListFiles:
		return (*Server).listFiles
	case OpSetFileAttributes:
		return (*Server).setAttributes
	case OpFileTransferFrom:
		return (*Server).transferFrom
	case OpFileTransferTo:
		return (*Server).transferTo
	case OpHGFSPacket:
		return (*Server).hgfsPacket
	}
	return nil
}

func (s *Server) dispatch(ctx context.Context, req *request) ([]byte, error) {
	if req.OpCode == OpGetToolsState {
		return s.toolsState()
	}
	op := opFor(req.OpCode)
	if op == nil {
		return nil, fail(ErrUnrecognized)
	}
	user, err := s.authenticate(ctx, req)
	if err != nil {
		return nil, err
	}
	return op(s, ctx, req, user)
}

// authenticate decodes the credential and asks the Authenticator.
func (s *Server) authenticate(ctx context.Context, req *request) (string, error) {
	c, ok := parseCredential(req.CredentialType, req.cred)
	if !ok {
		return "", fail(ErrBadBody)
	}
	if s.opts.Authenticate == nil {
		s.log.Warn("vix: op refused", "op", req.OpCode, "reason", ErrNoAuthenticator)
		return "", &vixErr{code: ErrAuthFail, err: ErrNoAuthenticator}
	}
	user, err := s.opts.Authenticate(ctx, c)
	if err != nil {
		s.log.Warn("vix: credential refused", "op", req.OpCode, "user", c.Name, "error", err)
		return "", &vixErr{code: ErrAuthFail, err: err}
	}
	return user, nil
}

// Credential types that carry a name and password.
const (
	credNamePassword           = 1
	credNamePasswordObfuscated = 4
	credNamedInteractiveUser   = 8
)

// parseCredential decodes {u32 nameLen, u32 pwLen} and the NUL-ended
// obfuscated base64 of "name\0password\0" (VixMsg_DeObfuscateNamePassword).
// Other types carry nothing this server reads.
func parseCredential(typ uint32, b []byte) (Credential, bool) {
	c := Credential{Type: typ}
	switch typ {
	case credNamePassword, credNamePasswordObfuscated, credNamedInteractiveUser:
	default:
		return c, true
	}
	if len(b) < 8 {
		return c, false
	}
	b = b[8:]
	end := indexNUL(b)
	if end < 0 {
		return c, false
	}
	plain, ok := deobfuscate(b[:end])
	if !ok {
		return c, false
	}
	name, rest, found := strings.Cut(plain, "\x00")
	if !found {
		return c, false
	}
	c.Name, c.Password = name, strings.TrimSuffix(rest, "\x00")
	return c, true
}

// deobfuscate undoes the backslash escapes and base64.
func deobfuscate(b []byte) (string, bool) {
	const plain = "\\'\" \r\n\t"
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		i++
		if i == len(b) || b[i] < '1' || b[i] > '7' {
			return "", false
		}
		out = append(out, plain[b[i]-'1'])
	}
	dec, err := base64.StdEncoding.DecodeString(string(out))
	if err != nil {
		return "", false
	}
	return string(dec), true
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// body starts a reader on the request's body after checking that it
// holds at least fixed bytes (extBodySize < 0 is BAD_HEADER in OVT).
func body(req *request, fixed int) (*reader, error) {
	if len(req.body) < fixed {
		return nil, fail(ErrBadHeader)
	}
	return &reader{b: req.body}, nil
}

// done reports a malformed body as BAD_BODY.
func (r *reader) done() error {
	if r.bad {
		return fail(ErrBadBody)
	}
	return nil
}

func errorf(code Code, format string, args ...any) error {
	return &vixErr{code: code, err: fmt.Errorf(format, args...)}
}
