package toolbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/guestrpc/guestrpc/rpc"
	"github.com/guestrpc/guestrpc/toolbox"
)

// FuzzSetOption: any argument is answered with OK (an empty result) or
// the one refusal OVT gives, never a crash.
func FuzzSetOption(f *testing.F) {
	for _, s := range []string{"broadcastIP 1", "broadcastIP 0", "broadcastIP", "", " ", "  broadcastIP 1",
		"toolScripts.afterPowerOn 1", "synctime 1", "broadcastIP \x00", "\xff\xfe 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		svc, err := toolbox.NewService(toolbox.Options{RPCI: echoRPCI{},
			PrimaryIP: func(context.Context) (string, error) { return "192.0.2.1", nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		res, err := toolbox.CallForTest(svc, "Set_Option", args)
		var re *rpc.Error
		switch {
		case err == nil && len(res) != 0:
			t.Fatalf("%q: result %q", args, res)
		case err != nil && (!errors.As(err, &re) || re.Message != "Unknown or invalid option"):
			t.Fatalf("%q: error %v", args, err)
		}
	})
}

type echoRPCI struct{}

func (echoRPCI) Call(_ context.Context, req []byte) ([]byte, error) { return req, nil }
