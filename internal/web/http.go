package web

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/telemetry"
)

//go:embed assets
var assets embed.FS

// AssetPrefix is where the page's scripts and styles are served.
const AssetPrefix = "/ui/"

// ErrNotFound is what a WorkflowSource wraps for an unknown execution.
var ErrNotFound = errors.New("not found")

// PublicPath reports whether path is part of the page itself (the HTML,
// scripts and styles), which holds no data and may be served without the
// API token: the page asks for the token and sends it with every data
// request under /v1/dashboard, which stays protected.
func PublicPath(path string) bool {
	return path == "/" || strings.HasPrefix(path, AssetPrefix)
}

// Register adds the page, its assets and the dashboard's JSON endpoints to
// mux. It claims GET / exactly (not every path), AssetPrefix and
// /v1/dashboard/.
func (d *Dashboard) Register(mux *http.ServeMux) {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET "+AssetPrefix, http.StripPrefix(AssetPrefix, http.FileServerFS(static)))
	mux.HandleFunc("GET /v1/dashboard/functions", d.serveFunctions)
	mux.HandleFunc("GET /v1/dashboard/functions/{name}", d.serveFunction)
	mux.HandleFunc("GET /v1/dashboard/pools", d.servePools)
	mux.HandleFunc("GET /v1/dashboard/workflows", d.serveWorkflows)
	mux.HandleFunc("GET /v1/dashboard/workflows/{id}", d.serveWorkflow)
	mux.HandleFunc("GET /v1/dashboard/traces", d.serveTraces)
	mux.HandleFunc("GET /v1/dashboard/traces/{id}", d.serveTrace)
	mux.HandleFunc("GET /v1/dashboard/deadletters", d.serveDeadLetters)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// functionsView is the overview's data.
type functionsView struct {
	WindowSeconds float64         `json:"window_seconds"`
	PollMS        int64           `json:"poll_ms"`
	Functions     []FunctionStats `json:"functions"`
	// Error says why the list may be incomplete (the registry failed).
	Error string `json:"error,omitempty"`
}

func (d *Dashboard) serveFunctions(w http.ResponseWriter, r *http.Request) {
	fns, err := d.Functions(r.Context())
	v := functionsView{WindowSeconds: d.opts.Window.Seconds(), PollMS: d.opts.PollEvery.Milliseconds(), Functions: fns}
	if err != nil {
		v.Error = err.Error()
	}
	writeJSON(w, v)
}

func (d *Dashboard) serveFunction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	fd, ok, err := d.Function(r.Context(), name)
	switch {
	case err != nil:
		apierror.Write(w, apierror.Internal("function %s: %v", name, err))
	case !ok:
		apierror.Write(w, apierror.NotFound("function %s is not deployed and has not been invoked since the node started", name))
	default:
		writeJSON(w, struct {
			FunctionDetail
			WindowSeconds float64 `json:"window_seconds"`
		}{fd, d.opts.Window.Seconds()})
	}
}

func (d *Dashboard) servePools(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"available": d.opts.Pools != nil, "every_seconds": d.opts.PoolEvery.Seconds(),
		"pools": d.pools.series("")})
}

// limit reads the limit query parameter (default def, at most 500).
func limit(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, apierror.BadRequest("limit %q must be a positive integer", v)
	}
	return min(n, 500), nil
}

func (d *Dashboard) serveWorkflows(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r, 50)
	if err != nil {
		apierror.Write(w, err)
		return
	}
	if d.opts.Workflows == nil {
		writeJSON(w, map[string]any{"available": false, "executions": []Execution{}})
		return
	}
	execs, err := d.opts.Workflows.Executions(r.Context(), n)
	if err != nil {
		apierror.Write(w, apierror.Internal("list workflow executions: %v", err))
		return
	}
	if execs == nil {
		execs = []Execution{}
	}
	writeJSON(w, map[string]any{"available": true, "executions": execs})
}

func (d *Dashboard) serveWorkflow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if d.opts.Workflows == nil {
		apierror.Write(w, apierror.NotFound("this node has no workflow engine"))
		return
	}
	ex, err := d.opts.Workflows.Execution(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		apierror.Write(w, apierror.NotFound("execution %s: %v", id, err))
	case err != nil:
		apierror.Write(w, apierror.Internal("execution %s: %v", id, err))
	default:
		if ex.States == nil {
			ex.States = map[string]string{}
		}
		writeJSON(w, ex)
	}
}

func (d *Dashboard) serveTraces(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r, 50)
	if err != nil {
		apierror.Write(w, err)
		return
	}
	traces := []telemetry.Trace{}
	if d.opts.Traces != nil {
		if got := d.opts.Traces.List(n); got != nil {
			traces = got
		}
	}
	writeJSON(w, map[string]any{"available": d.opts.Traces != nil, "traces": traces})
}

func (d *Dashboard) serveTrace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if d.opts.Traces != nil {
		if t, ok := d.opts.Traces.Get(id); ok {
			writeJSON(w, t)
			return
		}
	}
	apierror.Write(w, apierror.NotFound("trace %s is not among the recent traces this node keeps", id))
}

func (d *Dashboard) serveDeadLetters(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r, 50)
	if err != nil {
		apierror.Write(w, err)
		return
	}
	if d.opts.DeadLetters == nil {
		writeJSON(w, map[string]any{"available": false, "dead_letters": []DeadLetter{}})
		return
	}
	dl, err := d.opts.DeadLetters.DeadLetters(r.Context(), n)
	if err != nil {
		apierror.Write(w, apierror.Internal("list dead letters: %v", err))
		return
	}
	if dl == nil {
		dl = []DeadLetter{}
	}
	writeJSON(w, map[string]any{"available": true, "dead_letters": dl})
}
