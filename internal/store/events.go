package store

// Event is one raw telemetry event as its source sent it (an AlphaSOC dns
// or ip event, say), kept beside the session it became or joined, so that
// what a sensor reported stays available as reported.
type Event struct {
	Tenant    string
	SessionID string
	Type      string // the source's event type, e.g. "dns"
	Ts        int64  // event time, epoch ms
	// Body is the event's JSON text, valid UTF-8.
	Body []byte
}
