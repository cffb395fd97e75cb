package server

// SetTestHook makes s call f right before each deadline a connection
// sets, with the deadline's name; call it before Serve.
func SetTestHook(s *Server, f func(deadline string)) { s.testHook = f }

// CutShort aborts s's connections as Shutdown does past its deadline.
func CutShort(s *Server) { s.cutShort() }
