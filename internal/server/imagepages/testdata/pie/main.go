// Command pie releases its image pages and then runs code that reads
// relocated read-only data (type descriptors, interface tables, function
// values): built as a position-independent executable, that data is in a
// RELRO segment the loader wrote, which Release must keep.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"pkgstore/internal/server/imagepages"
)

type shape interface{ area() float64 }

type square struct{ s float64 }

func (q square) area() float64 { return q.s * q.s }

func main() {
	n, err := imagepages.Release()
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
	var shapes []shape
	for i := range 10 {
		shapes = append(shapes, square{float64(i)})
	}
	sort.Slice(shapes, func(i, j int) bool { return shapes[i].area() > shapes[j].area() })
	m := map[string]any{"err": errors.New("x"), "shape": shapes[0]}
	var keys []string
	for k, v := range m {
		keys = append(keys, fmt.Sprintf("%s=%T", k, v))
	}
	sort.Strings(keys)
	fmt.Printf("released %d; %s; %v\n", n, strings.Join(keys, ","), shapes[0].area())
}
