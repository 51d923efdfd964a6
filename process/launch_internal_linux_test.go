package process

import (
	"os/user"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUserIDs checks that an id that does not parse is refused rather than
// read as 0, which would run the program as root.
func TestUserIDs(t *testing.T) {
	type ids struct {
		UID, GID uint32
		Err      bool
	}
	for _, tc := range []struct {
		name string
		u    user.User
		want ids
	}{
		{"numeric", user.User{Uid: "1234", Gid: "4321"}, ids{UID: 1234, GID: 4321}},
		{"root", user.User{Uid: "0", Gid: "0"}, ids{}},
		{"SID uid", user.User{Uid: "S-1-5-21-1", Gid: "100"}, ids{Err: true}},
		{"empty uid", user.User{Uid: "", Gid: "100"}, ids{Err: true}},
		{"uid over 32 bits", user.User{Uid: "4294967296", Gid: "100"}, ids{Err: true}},
		{"bad gid", user.User{Uid: "1000", Gid: "staff"}, ids{Err: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid, gid, err := userIDs(&tc.u)
			got := ids{UID: uid, GID: gid, Err: err != nil}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("userIDs(%+v) (-want +got):\n%s (err %v)", tc.u, diff, err)
			}
		})
	}
}
