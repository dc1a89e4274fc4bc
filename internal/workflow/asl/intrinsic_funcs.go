package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strings"
)

type intrinsicFn func(e *Env, args []any) (any, error)

// intrinsicFunc returns the implementation of a States.* function, or nil.
func intrinsicFunc(name string) intrinsicFn {
	switch name {
	case "States.Format":
		return fnFormat
	case "States.StringToJson":
		return fnStringToJSON
	case "States.JsonToString":
		return fnJSONToString
	case "States.Array":
		return func(_ *Env, args []any) (any, error) { return append([]any{}, args...), nil }
	case "States.ArrayPartition":
		return fnArrayPartition
	case "States.ArrayContains":
		return fnArrayContains
	case "States.ArrayRange":
		return fnArrayRange
	case "States.ArrayGetItem":
		return fnArrayGetItem
	case "States.ArrayLength":
		return fnArrayLength
	case "States.ArrayUnique":
		return fnArrayUnique
	case "States.Base64Encode":
		return fnBase64Encode
	case "States.Base64Decode":
		return fnBase64Decode
	case "States.Hash":
		return fnHash
	case "States.JsonMerge":
		return fnJSONMerge
	case "States.MathRandom":
		return fnMathRandom
	case "States.MathAdd":
		return fnMathAdd
	case "States.StringSplit":
		return fnStringSplit
	case "States.UUID":
		return fnUUID
	}
	return nil
}

func wantArgs(args []any, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return fmt.Errorf("takes %d arguments, got %d", lo, len(args))
		}
		return fmt.Errorf("takes %d to %d arguments, got %d", lo, hi, len(args))
	}
	return nil
}

func argString(args []any, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, got %s", i+1, typeName(args[i]))
	}
	return s, nil
}

func argArray(args []any, i int) ([]any, error) {
	a, ok := args[i].([]any)
	if !ok {
		return nil, fmt.Errorf("argument %d must be an array, got %s", i+1, typeName(args[i]))
	}
	return a, nil
}

func argInt(args []any, i int) (int64, error) {
	n, ok := toInt(args[i])
	if !ok {
		return 0, fmt.Errorf("argument %d must be an integer, got %s", i+1, mustEncode(args[i]))
	}
	return n, nil
}

// argRounded reads a number argument rounded half up to an integer, as the
// math functions of Step Functions do (Java's Math.round).
func argRounded(args []any, i int) (int64, error) {
	f, ok := toFloat(args[i])
	if !ok {
		return 0, fmt.Errorf("argument %d must be a number, got %s", i+1, mustEncode(args[i]))
	}
	return int64(math.Floor(f + 0.5)), nil
}

// fnFormat fills each {} in the template with the next argument; strings are
// inserted as they are, other values as JSON.
func fnFormat(_ *Env, args []any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("needs a template")
	}
	tmpl, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		switch {
		case c == '\\' && i+1 < len(tmpl):
			b.WriteByte(tmpl[i+1])
			i++
		case c == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			if next >= len(args) {
				return nil, fmt.Errorf("more placeholders than arguments")
			}
			b.WriteString(javaString(args[next]))
			next++
			i++
		default:
			b.WriteByte(c)
		}
	}
	if next != len(args) {
		return nil, fmt.Errorf("%d arguments for %d placeholders", len(args)-1, next-1)
	}
	return b.String(), nil
}

func fnStringToJSON(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return v, nil
}

func fnJSONToString(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	return EncodeJSON(args[0])
}

func fnArrayPartition(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	a, err := argArray(args, 0)
	if err != nil {
		return nil, err
	}
	size, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("chunk size must be positive, got %d", size)
	}
	out := []any{}
	for i := 0; i < len(a); i += int(size) {
		out = append(out, append([]any{}, a[i:min(len(a), i+int(size))]...))
	}
	return out, nil
}

func fnArrayContains(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	a, err := argArray(args, 0)
	if err != nil {
		return nil, err
	}
	for _, e := range a {
		if Equal(e, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 3, 3); err != nil {
		return nil, err
	}
	var n [3]int64
	for i := range n {
		v, err := argInt(args, i)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, fmt.Errorf("step must not be 0")
	}
	out := []any{}
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		if len(out) == 1000 {
			return nil, fmt.Errorf("the range has more than 1000 items")
		}
		out = append(out, number(float64(v)))
	}
	return out, nil
}

func fnArrayGetItem(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	a, err := argArray(args, 0)
	if err != nil {
		return nil, err
	}
	i, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, fmt.Errorf("index %d out of bounds for an array of %d", i, len(a))
	}
	return a[i], nil
}

func fnArrayLength(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	a, err := argArray(args, 0)
	if err != nil {
		return nil, err
	}
	return number(float64(len(a))), nil
}

func fnArrayUnique(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	a, err := argArray(args, 0)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, e := range a {
		dup := false
		for _, o := range out {
			if Equal(e, o) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out, nil
}

// The spec caps the Base64 functions' inputs.
const maxBase64Input = 10000

func fnBase64Encode(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	if len(s) > maxBase64Input {
		return nil, fmt.Errorf("input longer than %d characters", maxBase64Input)
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	if len(s) > maxBase64Input {
		return nil, fmt.Errorf("input longer than %d characters", maxBase64Input)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return string(b), nil
}

func fnHash(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	data, ok := args[0].(string)
	if !ok {
		data = mustEncode(args[0])
	}
	alg, err := argString(args, 1)
	if err != nil {
		return nil, err
	}
	sum, ok := hashHex(alg, data)
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q (MD5, SHA-1, SHA-256, SHA-384, SHA-512)", alg)
	}
	return sum, nil
}

// hashHex hashes data with one of the algorithms States.Hash and JSONata's
// $hash accept, in hex; ok is false for an unknown algorithm.
func hashHex(alg, data string) (string, bool) {
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return "", false
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), true
}

func fnJSONMerge(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 3, 3); err != nil {
		return nil, err
	}
	a, ok1 := args[0].(map[string]any)
	b, ok2 := args[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("both values must be objects")
	}
	if deep, _ := args[2].(bool); deep {
		return nil, fmt.Errorf("deep merge is not supported; the third argument must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = DeepCopy(v)
	}
	for k, v := range b {
		out[k] = DeepCopy(v)
	}
	return out, nil
}

func fnMathRandom(e *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 3); err != nil {
		return nil, err
	}
	lo, err := argRounded(args, 0)
	if err != nil {
		return nil, err
	}
	hi, err := argRounded(args, 1)
	if err != nil {
		return nil, err
	}
	if hi <= lo {
		return nil, fmt.Errorf("end %d must be greater than start %d", hi, lo)
	}
	r := e.random()
	if len(args) == 3 {
		seed, err := argInt(args, 2)
		if err != nil {
			return nil, err
		}
		r = seededRandom(uint64(seed))
	}
	return number(float64(lo + int64(r.Uint64()%uint64(hi-lo)))), nil
}

func fnMathAdd(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	a, err := argRounded(args, 0)
	if err != nil {
		return nil, err
	}
	b, err := argRounded(args, 1)
	if err != nil {
		return nil, err
	}
	return number(float64(a + b)), nil
}

// fnStringSplit splits at any of the delimiter's characters and drops empty
// pieces, as Step Functions does.
func fnStringSplit(_ *Env, args []any) (any, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	s, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	d, err := argString(args, 1)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) }) {
		out = append(out, part)
	}
	return out, nil
}

func fnUUID(e *Env, args []any) (any, error) {
	if err := wantArgs(args, 0, 0); err != nil {
		return nil, err
	}
	return newUUID(e.random()), nil
}

// javaString renders a value the way States.Format does: strings as they
// are, objects and arrays in Java's Map and List toString form
// ({a=1, b=[x, y]}), other values as JSON.
func javaString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		parts := make([]string, 0, len(t))
		for _, k := range sortedKeys(t) {
			parts = append(parts, k+"="+javaString(t[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = javaString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return mustEncode(v)
}
