package prokshy_test

import (
	"fmt"

	"github.com/guestrpc/guestrpc/compat/prokshy"
)

// prokshy accepts command names of letters, digits, '_', '.' and '-'.
func ExampleValidName() {
	for _, name := range []string{"df", "get-logs.v2", "rm -rf", "../x", ""} {
		fmt.Printf("%q %v\n", name, prokshy.ValidName(name))
	}
	// Output:
	// "df" true
	// "get-logs.v2" true
	// "rm -rf" false
	// "../x" false
	// "" false
}
