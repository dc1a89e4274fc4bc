package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// Machine is a stored state machine. Version is the revision of its
// definition: 1 when created, one more at each update.
type Machine struct {
	Name       string    `json:"name"`
	ARN        string    `json:"arn"`
	Type       asl.Type  `json:"type"`
	Definition string    `json:"definition"`
	RoleArn    string    `json:"roleArn,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Version    int64     `json:"version"`
}

// MachineSpec is what CreateMachine and UpdateMachine take.
type MachineSpec struct {
	Name       string
	Definition string
	// Type is STANDARD (the default) or EXPRESS.
	Type    asl.Type
	RoleArn string
}

// validName is Step Functions' rule for machine and execution names, kept
// to the characters that are safe in ARNs, keys and subjects.
var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func checkName(kind, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w: %s name %q must be 1 to 80 letters, digits, '-' or '_'", ErrInvalidName, kind, name)
	}
	return nil
}

// parse validates a definition for a machine type.
func parse(def string, typ asl.Type) (*asl.Machine, error) {
	m, err := asl.ParseWith([]byte(def), asl.Options{Type: typ})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDefinition, err)
	}
	return m, nil
}

func normalizeType(t asl.Type) (asl.Type, error) {
	switch strings.ToUpper(string(t)) {
	case "", string(asl.Standard):
		return asl.Standard, nil
	case string(asl.Express):
		return asl.Express, nil
	}
	return "", fmt.Errorf("%w: type %q is neither STANDARD nor EXPRESS", ErrInvalidDefinition, t)
}

// CreateMachine stores a new state machine. Creating one that exists with
// the same definition and type returns it (as Step Functions does); with a
// different one it fails with ErrMachineExists.
func (e *Engine) CreateMachine(ctx context.Context, spec MachineSpec) (*Machine, error) {
	if err := checkName("state machine", spec.Name); err != nil {
		return nil, err
	}
	typ, err := normalizeType(spec.Type)
	if err != nil {
		return nil, err
	}
	if _, err := parse(spec.Definition, typ); err != nil {
		return nil, err
	}
	now := e.clk.Now().UTC()
	m := &Machine{Name: spec.Name, ARN: e.arn("stateMachine", spec.Name), Type: typ,
		Definition: spec.Definition, RoleArn: spec.RoleArn, Created: now, Updated: now, Version: 1}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode state machine %s: %w", spec.Name, err)
	}
	if _, err := e.machines.Create(ctx, spec.Name, data); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("store state machine %s: %w", spec.Name, err)
		}
		old, gerr := e.Machine(ctx, spec.Name)
		if gerr != nil {
			return nil, gerr
		}
		if old.Definition == spec.Definition && old.Type == typ {
			return old, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrMachineExists, spec.Name)
	}
	return m, nil
}

// UpdateMachine replaces a machine's definition (its type cannot change).
// Running executions keep the definition they started with.
func (e *Engine) UpdateMachine(ctx context.Context, name, definition string) (*Machine, error) {
	name = e.machineName(name)
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %q", ErrMachineNotFound, name)
	}
	entry, err := e.machines.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMachineNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read state machine %s: %w", name, err)
	}
	var m Machine
	if err := json.Unmarshal(entry.Value(), &m); err != nil {
		return nil, fmt.Errorf("decode state machine %s: %w", name, err)
	}
	if _, err := parse(definition, m.Type); err != nil {
		return nil, err
	}
	m.Definition, m.Updated, m.Version = definition, e.clk.Now().UTC(), m.Version+1
	data, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encode state machine %s: %w", name, err)
	}
	// Update checks the revision read above, so concurrent updates cannot
	// both claim the same version.
	if _, err := e.machines.Update(ctx, name, data, entry.Revision()); err != nil {
		return nil, fmt.Errorf("store state machine %s: %w", name, err)
	}
	return &m, nil
}

// DeleteMachine removes a machine; its running executions continue.
func (e *Engine) DeleteMachine(ctx context.Context, name string) error {
	name = e.machineName(name)
	if _, err := e.Machine(ctx, name); err != nil {
		return err
	}
	if err := e.machines.Purge(ctx, name); err != nil {
		return fmt.Errorf("delete state machine %s: %w", name, err)
	}
	return nil
}

// Machine returns a machine by name or ARN.
func (e *Engine) Machine(ctx context.Context, nameOrARN string) (*Machine, error) {
	name := e.machineName(nameOrARN)
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %s", ErrMachineNotFound, nameOrARN)
	}
	entry, err := e.machines.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMachineNotFound, nameOrARN)
	}
	if err != nil {
		return nil, fmt.Errorf("read state machine %s: %w", name, err)
	}
	var m Machine
	if err := json.Unmarshal(entry.Value(), &m); err != nil {
		return nil, fmt.Errorf("decode state machine %s: %w", name, err)
	}
	return &m, nil
}

// Machines lists the stored machines by name.
func (e *Engine) Machines(ctx context.Context) ([]*Machine, error) {
	keys, err := e.machines.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list state machines: %w", err)
	}
	var out []*Machine
	for k := range keys.Keys() {
		m, err := e.Machine(ctx, k)
		if errors.Is(err, ErrMachineNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// machineName accepts a name or a state machine ARN (of any region and
// account, so that ARNs written for AWS resolve to the hearth machine).
func (e *Engine) machineName(nameOrARN string) string {
	if strings.HasPrefix(nameOrARN, "arn:") {
		parts := strings.Split(nameOrARN, ":")
		if len(parts) >= 7 && parts[5] == "stateMachine" {
			return parts[6]
		}
	}
	return nameOrARN
}

// MachineVersions returns the stored versions of a machine's definition,
// oldest first (the bucket keeps the last 64).
func (e *Engine) MachineVersions(ctx context.Context, nameOrARN string) ([]*Machine, error) {
	name := e.machineName(nameOrARN)
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %s", ErrMachineNotFound, nameOrARN)
	}
	entries, err := e.machines.History(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMachineNotFound, nameOrARN)
	}
	if err != nil {
		return nil, fmt.Errorf("read versions of %s: %w", name, err)
	}
	var out []*Machine
	for _, entry := range entries {
		if entry.Operation() != jetstream.KeyValuePut {
			// A delete ends the versions of the earlier machine by that name.
			out = nil
			continue
		}
		var m Machine
		if err := json.Unmarshal(entry.Value(), &m); err != nil {
			return nil, fmt.Errorf("decode state machine %s: %w", name, err)
		}
		out = append(out, &m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrMachineNotFound, nameOrARN)
	}
	return out, nil
}
