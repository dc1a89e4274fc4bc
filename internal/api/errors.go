package api

import (
	"errors"
	"net/http"

	"github.com/hearth-sh/hearth/internal/api/asyncapi"
	"github.com/hearth-sh/hearth/internal/apierror"
	"github.com/hearth-sh/hearth/internal/async"
	"github.com/hearth-sh/hearth/internal/invoke"
	"github.com/hearth-sh/hearth/internal/pool"
	"github.com/hearth-sh/hearth/internal/registry"
	"github.com/hearth-sh/hearth/internal/runtime"
)

var errUnauthorized = apierror.New(http.StatusUnauthorized, "unauthorized",
	"missing or wrong API token: send it as 'Authorization: Bearer <token>' (hearth --token or HEARTH_TOKEN)")

// statusOf maps every error kind the node reports to one API error. This is
// the only place where error kinds become HTTP statuses.
func statusOf(err error) *apierror.Error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	msg := err.Error()
	switch {
	case errors.Is(err, registry.ErrInvalidName), errors.Is(err, registry.ErrInvalidConfig):
		return apierror.BadRequest("%s", msg)
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, invoke.ErrNotFound):
		return apierror.NotFound("%s", msg)
	case errors.Is(err, runtime.ErrInvalidArtifact):
		return apierror.New(http.StatusUnprocessableEntity, "invalid_artifact", "%s", msg)
	case errors.Is(err, pool.ErrThrottled):
		e := apierror.New(http.StatusTooManyRequests, "throttled", "%s; retry later or raise --concurrency", msg)
		e.RetryAfter = 1
		return e
	case errors.Is(err, runtime.ErrTimeout):
		return apierror.New(http.StatusGatewayTimeout, "function_timeout", "%s; raise --timeout if the function needs longer", msg)
	case errors.Is(err, runtime.ErrMemoryLimit):
		return apierror.New(http.StatusInternalServerError, "function_out_of_memory", "%s; raise --memory if the function needs more", msg)
	case errors.Is(err, runtime.ErrResponseTooLarge):
		return apierror.New(http.StatusInternalServerError, "response_too_large", "%s (limit %d bytes)", msg, invoke.MaxResponseBytes)
	case errors.Is(err, runtime.ErrInit):
		return apierror.New(http.StatusInternalServerError, "function_init_failed", "%s", msg)
	case errors.Is(err, runtime.ErrTrap):
		return apierror.New(http.StatusInternalServerError, "function_crashed", "%s", msg)
	case errors.Is(err, async.ErrInProgress), errors.Is(err, async.ErrTooLarge), errors.Is(err, async.ErrInvalid):
		return asyncapi.StatusOf(err)
	case errors.Is(err, pool.ErrClosed):
		return apierror.New(http.StatusServiceUnavailable, "unavailable", "%s", msg)
	}
	return apierror.Internal("%s", msg)
}

func writeError(w http.ResponseWriter, err error) { apierror.Write(w, statusOf(err)) }
