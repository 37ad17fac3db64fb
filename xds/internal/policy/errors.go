package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem of a routes file, at a field path such as
// "clusters.orders.retry.per_try_timeout" or "routes[3].cluster".
type FieldError struct {
	Path    string
	Line    int // 0 when unknown
	Message string
}

func (e *FieldError) Error() string {
	where := e.Path
	if where == "" {
		where = "(document)"
	}
	if e.Line > 0 {
		where = fmt.Sprintf("%s (line %d)", where, e.Line)
	}
	return where + ": " + e.Message
}

// Errors are every problem found in a routes file, in file order.
type Errors struct {
	File string
	List []*FieldError
}

func (e *Errors) add(path string, line int, msg string) {
	e.List = append(e.List, &FieldError{Path: path, Line: line, Message: msg})
}

func (e *Errors) Error() string {
	slices.SortStableFunc(e.List, func(a, b *FieldError) int { return cmp.Compare(a.Line, b.Line) })
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s)", cmp.Or(e.File, "routes"), len(e.List))
	for _, fe := range e.List {
		b.WriteString("; ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

func (e *Errors) err() error {
	if len(e.List) == 0 {
		return nil
	}
	return e
}
