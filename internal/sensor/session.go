package sensor

// Session is one flow as the sensor reports it: a session document with
// the canonical field names of the registry (internal/model), nested the way
// GET /api/v1/sessions returns them, so that it can be printed, uploaded to
// POST /api/v1/sessions or decoded by ingest.SessionDecoder unchanged.
type Session struct {
	FirstPacket  int64     `json:"firstPacket"`
	LastPacket   int64     `json:"lastPacket"`
	IPProtocol   int       `json:"ipProtocol"`
	Source       Endpoint  `json:"source"`
	Destination  Endpoint  `json:"destination"`
	Network      Network   `json:"network"`
	Client       Data      `json:"client"`
	Server       Data      `json:"server"`
	TotDataBytes int64     `json:"totDataBytes"`
	Protocol     []string  `json:"protocol"`
	TCPFlags     *TCPFlags `json:"tcpflags,omitempty"`
	SrcTTL       []int     `json:"srcTTL,omitempty"`
	DstTTL       []int     `json:"dstTTL,omitempty"`
	Node         string    `json:"node,omitempty"`
	DNS          *DNS      `json:"dns,omitempty"`
}

// Endpoint is one side of a session. Port is nil for protocols without
// ports (ICMP, ESP, ...), where Arkime writes 0.
type Endpoint struct {
	IP      string   `json:"ip"`
	Port    *int     `json:"port,omitempty"`
	Bytes   int64    `json:"bytes"`
	Packets int64    `json:"packets"`
	MAC     []string `json:"mac,omitempty"`
}

// Network holds the session-wide flow fields.
type Network struct {
	Transport   string `json:"transport"`
	CommunityID string `json:"community_id"`
	Bytes       int64  `json:"bytes"`
	Packets     int64  `json:"packets"`
	VLAN        *VLAN  `json:"vlan,omitempty"`
}

// VLAN lists the 802.1Q identifiers seen (network.vlan.id).
type VLAN struct {
	ID []int `json:"id"`
}

// Data counts application payload bytes (client.bytes, server.bytes).
type Data struct {
	Bytes int64 `json:"bytes"`
}

// TCPFlags counts TCP flags the way Arkime does: syn without ack, syn-ack,
// ack only on packets with no other of SYN/FIN/RST/PSH set, and every
// packet carrying psh, fin, rst or urg.
type TCPFlags struct {
	SYN    int64 `json:"syn"`
	SYNACK int64 `json:"syn-ack"`
	ACK    int64 `json:"ack"`
	PSH    int64 `json:"psh"`
	FIN    int64 `json:"fin"`
	RST    int64 `json:"rst"`
	URG    int64 `json:"urg"`
}
