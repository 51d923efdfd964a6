package nicinfo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SendFunc sends one RPCI message to the VMX and returns its result (the
// text after "1 "). It returns an error when the VMX refused the message
// ("0 ...") or the channel failed.
type SendFunc func(ctx context.Context, msg []byte) ([]byte, error)

// ErrRefused reports a key/value the VMX answered with a non-empty
// result, which OVT counts as not updated.
var ErrRefused = errors.New("nicinfo: the VMX did not take the value")

// Reporter sends guest info to the VMX as OVT's guestInfo plugin does:
// only what changed since the VMX last accepted it, and NIC information
// by the first Method the VMX accepts, starting next time from the one
// that worked. It is safe for concurrent use; sends are serialized.
type Reporter struct {
	mu      sync.Mutex
	method  Method
	lastNic []byte // V3 encoding of the NIC info last accepted; nil: none
	values  map[Key]string
}

// NewReporter returns a Reporter that has sent nothing.
func NewReporter() *Reporter { return &Reporter{values: map[Key]string{}} }

// Reset forgets what was sent, so everything is sent again: OVT clears
// its cache after the VM resumes.
func (r *Reporter) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastNic = nil
	clear(r.values)
}

// Method is the method SendNicInfo tries first: the one the VMX last
// accepted, or MethodV3.
func (r *Reporter) Method() Method {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.method
}

// Changed reports whether v differs from the NIC info the VMX last
// accepted, comparing encodings (so order matters, as it does to the
// VMX: OVT's GuestInfo_IsEqual_NicInfoV3 plus its reordering checks).
func (r *Reporter) Changed(v *NicInfoV3) (bool, error) {
	enc, err := Encode(v)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastNic == nil || !bytes.Equal(enc, r.lastNic), nil
}

// SendNicInfo sends v unless it is what the VMX last accepted and force
// is false (force it on "Set_Option broadcastIP 1" and after a reset).
// It tries the remembered method and then each later one, as
// GuestInfoSendNicInfo does; when every method fails, the next call
// starts again from MethodV3. It reports whether v was sent.
func (r *Reporter) SendNicInfo(ctx context.Context, send SendFunc, v *NicInfoV3, force bool) (bool, error) {
	enc, err := Encode(v)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && r.lastNic != nil && bytes.Equal(enc, r.lastNic) {
		return false, nil
	}
	var errs []error
	for m := r.method; m <= MethodV1; m++ {
		msg, err := NicInfoMessage(v, m)
		if err == nil {
			_, err = send(ctx, msg)
		}
		if err == nil {
			r.method, r.lastNic = m, enc
			return true, nil
		}
		errs = append(errs, fmt.Errorf("%v: %w", m, err))
		if ctx.Err() != nil {
			break
		}
	}
	r.method = MethodV3
	return false, fmt.Errorf("nicinfo: no method took the NIC info: %w", errors.Join(errs...))
}

// SetValue sends the key/value guest info unless it is what the VMX last
// accepted. The VMX accepts with an empty result (ErrRefused otherwise).
func (r *Reporter) SetValue(ctx context.Context, send SendFunc, key Key, value string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.values[key]; ok && old == value {
		return false, nil
	}
	reply, err := send(ctx, SetGuestInfoMessage(key, value))
	if err != nil {
		return false, fmt.Errorf("nicinfo: SetGuestInfo %d: %w", key, err)
	}
	if len(reply) != 0 {
		return false, fmt.Errorf("%w: SetGuestInfo %d: reply %q", ErrRefused, key, reply)
	}
	r.values[key] = value
	return true, nil
}

// Gather is one round of OVT's GuestInfoGather, for the parts this
// package knows: OS names, DNS_NAME, NIC info, UPTIME.
type Gather struct {
	Info   *Info  // nil: collect with Collect
	Select Select // which NICs, in which order
	// OSNameFull and OSName are sent when not empty (OVT sends the full
	// name first).
	OSNameFull, OSName string
	// Uptime in hundredths of a second; nil reads Uptime, which fails
	// (and is skipped) where not supported.
	Uptime func() (uint64, error)
}

// Gather sends what changed of g, in OVT's order, and returns every
// failure joined; a failure does not stop the rest, as in OVT.
func (r *Reporter) Gather(ctx context.Context, send SendFunc, g Gather) error {
	var errs []error
	if g.OSNameFull != "" {
		_, err := r.SetValue(ctx, send, KeyOSNameFull, g.OSNameFull)
		errs = append(errs, err)
	}
	if g.OSName != "" {
		_, err := r.SetValue(ctx, send, KeyOSName, g.OSName)
		errs = append(errs, err)
	}
	info := g.Info
	if info == nil {
		var err error
		if info, err = Collect(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if info != nil {
		if h := info.DNS.HostName; h != "" {
			_, err := r.SetValue(ctx, send, KeyDNSName, h)
			errs = append(errs, err)
		}
		_, err := r.SendNicInfo(ctx, send, info.V3(g.Select), false)
		errs = append(errs, err)
	}
	up := g.Uptime
	if up == nil {
		up = Uptime
	}
	if t, err := up(); err == nil {
		_, err = r.SetValue(ctx, send, KeyUptime, fmt.Sprint(t))
		errs = append(errs, err)
	} else if !errors.Is(err, errors.ErrUnsupported) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Poll runs Gather at once and then every interval (OVT's default poll
// interval is 30s) until ctx ends, so that changed addresses, names and
// the uptime reach the VMX; unchanged ones are not resent. g is called
// for each round's Gather. Failures go to onError (nil: dropped) and do
// not stop polling. It returns ctx's error.
func (r *Reporter) Poll(ctx context.Context, send SendFunc, interval time.Duration, g func() Gather, onError func(error)) error {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.Gather(ctx, send, g()); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
