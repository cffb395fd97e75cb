package web

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// A page that starts processes is a local server with a browser in front
// of it. What guards it, outermost first:
//
//   - every response refuses framing and MIME sniffing (secure);
//   - a request for a Host the page does not serve is refused before any
//     handler sees it (hostGuard): another site's page can make a browser
//     send requests to 127.0.0.1 under its own name (DNS rebinding), and
//     the Host header is what gives it away;
//   - POSTs a page of another site makes a browser send are refused
//     (http.CrossOriginProtection, in Handler);
//   - parameters and bodies the API does not take are refused, naming
//     them (onlyParams, formBody), rather than ignored;
//   - a link starts nothing: run=1 fills the form and asks (app.js).

// secure sets on every response what keeps the page out of other sites'
// frames, and its files from being read as another type.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, req)
	})
}

// HostsEnv names the variable that gives cmd/web (and the compose file's
// web service) the host names, beyond IP addresses and localhost, that
// the page serves: comma-separated.
const HostsEnv = "ASYNCTRACE_WEB_HOSTS"

// hostGuard serves only requests whose Host is an IP address, localhost,
// or one of names (any port); others get 403 and start nothing.
func hostGuard(names []string, h http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[normalHost(n)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := hostOnly(req.Host)
		if _, err := netip.ParseAddr(host); err == nil || host == "localhost" || allowed[host] {
			h.ServeHTTP(w, req)
			return
		}
		writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not one this page serves: it answers at IP addresses and localhost, and at the names given to cmd/web's -allowed-hosts (or $%s)",
			clip(req.Host), HostsEnv))
	})
}

// hostOnly is the host of a Host header, without port or brackets,
// lower-case, without a trailing dot.
func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return normalHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
}

func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// ParseHosts reads a list of host names (comma- or space-separated), as
// -allowed-hosts and $ASYNCTRACE_WEB_HOSTS give them: names only, no
// ports, no schemes.
func ParseHosts(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		h := normalHost(f)
		if h == "" || strings.ContainsAny(h, ":/@[]") {
			return nil, fmt.Errorf("%q is not a host name (names only: no port, no scheme; IP addresses are always served)", f)
		}
		out = append(out, h)
	}
	return out, nil
}

// jsonErrors answers in JSON what the mux would answer in plain text: a
// path it has no route for (404), a method a route does not take (405,
// with Allow).
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h, pattern := mux.Handler(req)
		if pattern != "" {
			mux.ServeHTTP(w, req)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		switch rec.code {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, rec.code, fmt.Sprintf("%s %s: the method is not one this path takes (%s)", req.Method, clip(req.URL.Path), rec.header.Get("Allow")))
		case http.StatusNotFound, 0:
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s: no such page or API path", clip(req.URL.Path)))
		default: // a redirect, say: as the mux says it
			mux.ServeHTTP(w, req)
		}
	})
}

// statusRecorder keeps only the status and the headers of a response.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *statusRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(b), nil
}

// onlyParams answers 400, naming them, if the request's query has
// parameters other than allowed; it says whether the request may go on.
func onlyParams(w http.ResponseWriter, req *http.Request, allowed ...string) bool {
	if unknown := unknownParams(req.URL.Query(), allowed); len(unknown) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": unknownMessage(unknown, allowed), "unknown": unknown})
		return false
	}
	return true
}

func unknownParams(v url.Values, allowed []string) []string {
	var unknown []string
	for k := range v {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, clip(k))
		}
	}
	sort.Strings(unknown)
	return unknown
}

func unknownMessage(unknown, allowed []string) string {
	s := "unknown parameter"
	if len(unknown) > 1 {
		s += "s"
	}
	s += " " + strings.Join(quoteAll(unknown), ", ")
	if len(allowed) == 0 {
		return s + ": this path takes none"
	}
	return s + ": this path takes " + strings.Join(allowed, ", ")
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// formBody reads a POSTed form: its Content-Type must be a form's
// (415 otherwise), at most 16 KiB (400), no parameters in the URL (400).
func formBody(w http.ResponseWriter, req *http.Request) (url.Values, bool) {
	const form = "application/x-www-form-urlencoded"
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != form {
		got := req.Header.Get("Content-Type")
		if got == "" {
			got = "none"
		}
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("a body of type %s: this path takes %s, the knobs as form fields", clip(got), form))
		return nil, false
	}
	if unknown := unknownParams(req.URL.Query(), nil); len(unknown) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"unknown": unknown,
			"error": fmt.Sprintf("parameters in the URL (%s): this path takes the knobs as form fields in the body", strings.Join(quoteAll(unknown), ", "))})
		return nil, false
	}
	req.Body = http.MaxBytesReader(w, req.Body, 16<<10)
	if err := req.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "unreadable form: "+err.Error())
		return nil, false
	}
	return req.PostForm, true
}
