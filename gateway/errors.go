package gateway

import (
	"net/http"

	"github.com/authgate/authgate/internal/problem"
)

// writeError answers r with the problem document for err (internal/problem
// holds the one table of statuses) and logs an error that is not one of
// the expected outcomes. It is handed to upstream as its ErrorWriter, so
// every error response of the gateway goes through internal/problem.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	problem.WriteLogged(w, r, err, s.logger)
}
