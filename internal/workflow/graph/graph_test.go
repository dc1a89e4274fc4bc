package graph

import (
	"strings"
	"testing"

	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

const saga = `{"StartAt":"Check","States":{
	"Check":{"Type":"Choice","Choices":[{"Variable":"$.ok","BooleanEquals":true,"Next":"Pay"}],"Default":"Fail"},
	"Pay":{"Type":"Task","Resource":"pay","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Fail"}],"Next":"Both"},
	"Both":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
		{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]},
	"Fail":{"Type":"Fail","Error":"E"}}}`

func TestRender(t *testing.T) {
	m, err := asl.Parse([]byte(saga))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		render func(*asl.Machine) string
		want   []string
	}{
		{"mermaid", Mermaid, []string{
			"flowchart TD", "start --> s_Check", `s_Check{"Check"}`,
			`s_Check -->|"$.ok BooleanEquals true"| s_Pay`, `s_Check -->|"default"| s_Fail`,
			`s_Pay -.->|"States.ALL"| s_Fail`, "s_Both_0_s_A", "s_Both_1_s_B", "s_Fail --> finish",
		}},
		{"dot", DOT, []string{
			"digraph workflow {", "start -> s_Check;", "s_Check [shape=diamond",
			`s_Pay -> s_Fail [label="States.ALL",style=dashed];`, "subgraph cluster_1 {", "subgraph cluster_2 {",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.render(m)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
