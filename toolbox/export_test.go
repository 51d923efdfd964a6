package toolbox

import (
	"context"
	"fmt"
)

// CallForTest runs the handler of TCLO command cmd directly.
func CallForTest(s *Service, cmd string, args []byte) ([]byte, error) {
	ctx := context.Background()
	switch cmd {
	case "Set_Option":
		return s.setOption(ctx, args)
	case "reset":
		return s.reset(ctx, args)
	}
	for _, p := range powerOps {
		if p.cmd == cmd {
			return s.stateChangeOp(ctx, p)
		}
	}
	return nil, fmt.Errorf("no handler %q", cmd)
}
