package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Values handled by this package are the Go forms that encoding/json produces
// with UseNumber: nil, bool, string, json.Number, []any and map[string]any.
// float64 is accepted everywhere too, because JSONata results use it. Numbers
// stay json.Number where possible so that integers above 2^53 survive a Pass.

// DecodeJSON decodes one JSON document into the value forms this package uses
// (numbers become json.Number). Trailing data is an error.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// EncodeJSON marshals v compactly without escaping HTML characters, as Step
// Functions does.
func EncodeJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// mustEncode is EncodeJSON for values built by this package, which always encode.
func mustEncode(v any) string {
	s, err := EncodeJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// toFloat reports v as a float64 when v is a JSON number.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// toInt reports v as an int64 when v is a JSON number with no fractional part.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
	}
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// isNumber reports whether v is a JSON number.
func isNumber(v any) bool {
	_, ok := toFloat(v)
	return ok
}

// number returns the JSON form of f: an integer-looking json.Number when f
// has no fractional part.
func number(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return json.Number(strconv.FormatInt(int64(f), 10))
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// typeName names the JSON type of v for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if isNumber(v) {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// DeepCopy copies a JSON value so that later edits (ResultPath merges) never
// alias data held elsewhere (history, other branches).
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = DeepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = DeepCopy(e)
		}
		return a
	}
	return v
}

// Equal compares two JSON values, numbers by value.
func Equal(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// sortedKeys returns m's keys in order, for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonataNull is how the JSONata library represents JSON null.
var jsonataNull = (*any)(nil)

// normalize turns float64 numbers produced by JSONata into json.Number, and
// the library's null into nil, so that every value leaving this package has
// one form.
func normalize(v any) any {
	switch t := v.(type) {
	case *any:
		if t == nil {
			return nil
		}
		return normalize(*t)
	case float64:
		return number(t)
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}

// toJSONataValue turns json.Number into float64, the only number form the
// JSONata library understands.
func toJSONataValue(v any) any {
	switch t := v.(type) {
	case nil:
		// The library reads a plain nil as "undefined"; its JSON null is a
		// typed nil pointer.
		return jsonataNull
	case float64, string, bool:
		return t
	case json.Number:
		f, _ := t.Float64()
		return f
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = toJSONataValue(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = toJSONataValue(e)
		}
		return a
	}
	return v
}

// Number returns the JSON number n.
func Number(n int) any { return json.Number(strconv.Itoa(n)) }
