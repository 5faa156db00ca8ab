package modelfile

import (
	"fmt"
	"math"
)

// arguments reads a constructor's arguments: positional (args[i]) or by keyword, else a default
// (a required argument has the default `required` and records an error when absent).
// required marks an argument without a default.
const required = math.MinInt32

type arguments struct {
	args   []interface{}
	kwargs map[string]interface{}
	who    string
}

func (a *arguments) get(i int, name string) interface{} {
	if i >= 0 && i < len(a.args) {
		return a.args[i]
	}
	if v, ok := a.kwargs[name]; ok {
		return v
	}
	return nil
}

// specError is an argument that does not fit: fail panics with it (before the constructor can
// see the wrong value) and FromSpec returns it.
type specError struct{ error }

func (a *arguments) fail(name string, v interface{}, want string) {
	panic(specError{fmt.Errorf("architecture spec: %s: %s must be %s, got %v", a.who, name, want, v)})
}

func (a *arguments) int(i int, name string, def int) int {
	v := a.get(i, name)
	if v == nil {
		if def == required {
			a.fail(name, "nothing", "given")
		}
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		a.fail(name, v, "an integer")
		return def
	}
	return int(f)
}

func (a *arguments) pair(i int, name string, def int) [2]int {
	if items, ok := a.get(i, name).([]interface{}); ok {
		if len(items) != 2 {
			a.fail(name, items, "an integer or a pair")
			return [2]int{def, def}
		}
		sub := arguments{args: items, who: a.who}
		p := [2]int{sub.int(0, name, required), sub.int(1, name, required)}
		return p
	}
	v := a.int(i, name, def)
	return [2]int{v, v}
}

func (a *arguments) bool(i int, name string, def bool) bool {
	switch v := a.get(i, name).(type) {
	case nil:
		return def
	case bool:
		return v
	default:
		a.fail(name, v, "true or false")
		return def
	}
}

func (a *arguments) float(i int, name string, def float64) float64 {
	switch v := a.get(i, name).(type) {
	case nil:
		return def
	case float64:
		return v
	default:
		a.fail(name, v, "a number")
		return def
	}
}

func (a *arguments) str(i int, name string, def string) string {
	switch v := a.get(i, name).(type) {
	case nil:
		return def
	case string:
		return v
	default:
		a.fail(name, v, "a string")
		return def
	}
}

func optionalInt(v interface{}) int {
	if f, ok := v.(float64); ok {
		return int(f)
	}
	return 0 // None: keep that axis
}

func stringList(v interface{}) []string {
	var out []string
	for _, item := range list(v) {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func list(v interface{}) []interface{} {
	items, _ := v.([]interface{})
	return items
}

func object(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}
