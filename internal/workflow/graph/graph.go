// Package graph draws a state machine as a Mermaid flowchart or a
// Graphviz DOT digraph: states are nodes, Next/Default/Choice rules and
// Catch paths are edges, Parallel branches and Map processors are
// subgraphs.
package graph

import (
	"fmt"
	"strings"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

type edge struct {
	from, to, label string
	dashed          bool // a Catch path
}

type node struct {
	id, label, typ string
}

type cluster struct {
	id, label string
	nodes     []node
	clusters  []*cluster
}

// walker collects nodes, edges and clusters with ids unique across
// nested machines (a state name may repeat in two branches).
type walker struct {
	edges []edge
	n     int
}

func (w *walker) machine(m *asl.Machine, prefix string, c *cluster) (start string) {
	id := func(name string) string { return prefix + sanitize(name) }
	for _, name := range m.Order {
		st := m.States[name]
		c.nodes = append(c.nodes, node{id: id(name), label: name, typ: st.Type})
		if st.Next != "" {
			w.edges = append(w.edges, edge{from: id(name), to: id(st.Next)})
		}
		if st.End || st.Type == asl.TypeSucceed || st.Type == asl.TypeFail {
			w.edges = append(w.edges, edge{from: id(name), to: prefix + "finish"})
		}
		for _, r := range st.Choices {
			w.edges = append(w.edges, edge{from: id(name), to: id(r.Next), label: ruleLabel(r)})
		}
		if st.Default != "" {
			w.edges = append(w.edges, edge{from: id(name), to: id(st.Default), label: "default"})
		}
		for _, cat := range st.Catch {
			w.edges = append(w.edges, edge{from: id(name), to: id(cat.Next), label: strings.Join(cat.ErrorEquals, ", "), dashed: true})
		}
		var subs []*asl.Machine
		switch {
		case st.Type == asl.TypeParallel:
			subs = st.Branches
		case st.Type == asl.TypeMap && st.ItemProcessor != nil:
			subs = []*asl.Machine{st.ItemProcessor}
		}
		for i, sub := range subs {
			w.n++
			sp := fmt.Sprintf("%s%s_%d_", prefix, sanitize(name), i)
			sc := &cluster{id: fmt.Sprintf("cluster_%d", w.n), label: fmt.Sprintf("%s branch %d", name, i+1)}
			if st.Type == asl.TypeMap {
				sc.label = name + " item processor"
			}
			first := w.machine(sub, sp, sc)
			sc.nodes = append(sc.nodes, node{id: sp + "finish", label: "end", typ: "end"})
			c.clusters = append(c.clusters, sc)
			w.edges = append(w.edges, edge{from: id(name), to: first, dashed: false, label: "run"})
		}
	}
	return id(m.StartAt)
}

func ruleLabel(r *asl.ChoiceRule) string {
	if r.Variable != "" {
		return fmt.Sprintf("%s %s %v", r.Variable, r.Operator, r.Value)
	}
	return r.Operator
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "_%x_", r)
		}
	}
	return "s_" + b.String()
}

func collect(m *asl.Machine) (*walker, *cluster, string) {
	w := &walker{}
	root := &cluster{}
	start := w.machine(m, "", root)
	root.nodes = append(root.nodes, node{id: "finish", label: "end", typ: "end"})
	return w, root, start
}

// quote escapes a label for both output formats.
func quote(s string) string {
	s = strings.ReplaceAll(s, `"`, "'")
	return `"` + s + `"`
}

// Mermaid renders m as a Mermaid flowchart.
func Mermaid(m *asl.Machine) string {
	w, root, start := collect(m)
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	b.WriteString("  start((start))\n")
	var nodes func(c *cluster, indent string)
	nodes = func(c *cluster, indent string) {
		for _, n := range c.nodes {
			switch n.typ {
			case "end":
				fmt.Fprintf(&b, "%s%s((end))\n", indent, n.id)
			case asl.TypeChoice:
				fmt.Fprintf(&b, "%s%s{%s}\n", indent, n.id, quote(n.label))
			default:
				fmt.Fprintf(&b, "%s%s[%s]\n", indent, n.id, quote(n.label+" ("+n.typ+")"))
			}
		}
		for _, sc := range c.clusters {
			fmt.Fprintf(&b, "%ssubgraph %s [%s]\n", indent, sc.id, quote(sc.label))
			nodes(sc, indent+"  ")
			fmt.Fprintf(&b, "%send\n", indent)
		}
	}
	nodes(root, "  ")
	fmt.Fprintf(&b, "  start --> %s\n", start)
	for _, e := range w.edges {
		arrow := "-->"
		if e.dashed {
			arrow = "-.->"
		}
		if e.label != "" {
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", e.from, arrow, quote(e.label), e.to)
		} else {
			fmt.Fprintf(&b, "  %s %s %s\n", e.from, arrow, e.to)
		}
	}
	return b.String()
}

// DOT renders m as a Graphviz digraph.
func DOT(m *asl.Machine) string {
	w, root, start := collect(m)
	var b strings.Builder
	b.WriteString("digraph workflow {\n  rankdir=TB;\n  start [shape=circle,label=\"start\"];\n")
	var nodes func(c *cluster, indent string)
	nodes = func(c *cluster, indent string) {
		for _, n := range c.nodes {
			shape := "box"
			label := n.label + "\\n(" + n.typ + ")"
			switch n.typ {
			case "end":
				shape, label = "doublecircle", "end"
			case asl.TypeChoice:
				shape = "diamond"
			}
			fmt.Fprintf(&b, "%s%s [shape=%s,label=%s];\n", indent, n.id, shape, quote(label))
		}
		for _, sc := range c.clusters {
			fmt.Fprintf(&b, "%ssubgraph %s {\n%s  label=%s;\n", indent, sc.id, indent, quote(sc.label))
			nodes(sc, indent+"  ")
			fmt.Fprintf(&b, "%s}\n", indent)
		}
	}
	nodes(root, "  ")
	fmt.Fprintf(&b, "  start -> %s;\n", start)
	for _, e := range w.edges {
		var attrs []string
		if e.label != "" {
			attrs = append(attrs, "label="+quote(e.label))
		}
		if e.dashed {
			attrs = append(attrs, "style=dashed")
		}
		a := ""
		if len(attrs) > 0 {
			a = " [" + strings.Join(attrs, ",") + "]"
		}
		fmt.Fprintf(&b, "  %s -> %s%s;\n", e.from, e.to, a)
	}
	b.WriteString("}\n")
	return b.String()
}
