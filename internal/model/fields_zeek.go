package model

// zeekFields are the fields that only sensor logs imported as they are
// carry: Zeek's own bookkeeping (uid, conn_state, history, ...) and, in the
// second part, Suricata EVE's. Everything else those logs say maps onto the
// Arkime-named fields of coreFields and appFields (source.ip, dns.queryHost,
// tls.ja3, ...). None has a dedicated column.
//
// The two sensors share one table so that registering them stays a single
// entry in Default. Names are namespaced (zeek.*, eve.*) so they never clash
// with an Arkime, AlphaSOC or PAM name, but for dhcp.assignedIp, which both
// sensors report and Arkime has no name for. Columns of a sensor log that no
// field here or elsewhere describes are kept as discovered fields named
// zeek.<log>.<column> and eve.<path>.
var zeekFields = []Field{
	// Zeek: linking records of one connection across logs.
	{Name: "zeek.log", Type: TypeString, Group: "zeek",
		Description: "Zeek log the session was read from: conn, dns, http, ssl, x509, dhcp or ssh."},
	{Name: "zeek.uid", Type: TypeStrings, Group: "zeek",
		Description: "Zeek connection identifiers (uid) of the records in the session; the conn, dns, http, ssl and ssh records of one connection share it (dhcp lists every connection of the exchange)."},
	{Name: "zeek.fuid", Type: TypeString, Group: "zeek",
		Description: "Zeek file identifier of a certificate (x509 log id, Zeek before 4.2); ssl records list it in zeek.cert_chain_fuids."},
	{Name: "zeek.fingerprint", Type: TypeString, Group: "zeek",
		Description: "Fingerprint of a certificate as Zeek logs it in x509 (hex, X509::hash_function, SHA-256 by default; Zeek 4.2 and later); ssl records list it in zeek.cert_chain_fps."},
	{Name: "zeek.cert_chain_fuids", Type: TypeStrings, Group: "zeek",
		Description: "File identifiers of the server certificate chain of a TLS connection, in chain order (Zeek before 4.2)."},
	{Name: "zeek.client_cert_chain_fuids", Type: TypeStrings, Group: "zeek",
		Description: "File identifiers of the client certificate chain of a TLS connection, in chain order (Zeek before 4.2)."},
	{Name: "zeek.cert_chain_fps", Type: TypeStrings, Group: "zeek",
		Description: "Fingerprints of the server certificate chain of a TLS connection, in chain order (Zeek 4.2 and later)."},
	{Name: "zeek.client_cert_chain_fps", Type: TypeStrings, Group: "zeek",
		Description: "Fingerprints of the client certificate chain of a TLS connection, in chain order (Zeek 4.2 and later)."},

	// Zeek conn log.
	{Name: "zeek.conn_state", Type: TypeString, Group: "zeek",
		Description: "Zeek connection state summary, e.g. SF (normal establishment and termination), S0 (no reply), REJ, RSTO."},
	{Name: "zeek.history", Type: TypeString, Group: "zeek",
		Description: "Zeek connection history: one letter per event, upper case from the originator, e.g. ShADadFf."},
	{Name: "zeek.service", Type: TypeStrings, Group: "zeek",
		Description: "Application protocols Zeek confirmed on the connection, by Zeek's analyzer names (ssl, http, dns, ...); protocol holds them by Arkime's names."},
	{Name: "zeek.local_orig", Type: TypeBool, Group: "zeek",
		Description: "Whether the originator is inside Site::local_nets of the Zeek that logged the connection."},
	{Name: "zeek.local_resp", Type: TypeBool, Group: "zeek",
		Description: "Whether the responder is inside Site::local_nets of the Zeek that logged the connection."},
	{Name: "zeek.missed_bytes", Type: TypeInt, Group: "zeek", Min: 0, Max: 1 << 62,
		Description: "Bytes Zeek missed in content gaps of the connection (packet loss at the sensor)."},
	{Name: "zeek.tunnel_parents", Type: TypeStrings, Group: "zeek",
		Description: "Connection identifiers (uid) of the tunnels that carried the connection."},

	// Zeek dns log.
	{Name: "zeek.answers", Type: TypeStrings, Group: "zeek",
		Description: "DNS answers as Zeek logs them (addresses, names and record texts, in answer order); dns.ip and dns.host hold the addresses and names among them."},
	// DHCP: Arkime names no field for the address a lease gives; Zeek's
	// assigned_addr and Suricata's assigned_ip both go here.
	{Name: "dhcp.assignedIp", Type: TypeIP, Group: "dhcp",
		Description: "Address the DHCP server assigned to the client."},

	// Suricata EVE.
	{Name: "eve.event_type", Type: TypeString, Group: "eve",
		Description: "Suricata EVE event type the session was read from: flow, netflow, dns, http, tls, ssh or dhcp."},
	{Name: "eve.flow_id", Type: TypeInt, Group: "eve",
		Description: "Suricata flow identifier; every EVE event and alert about one flow carries it."},
	{Name: "eve.flow_state", Type: TypeString, Group: "eve",
		Description: "State of the flow when Suricata logged it: new, established, closed or bypassed."},
	{Name: "eve.flow_reason", Type: TypeString, Group: "eve",
		Description: "Why Suricata ended and logged the flow: timeout, forced or shutdown."},
	{Name: "eve.flow_alerted", Type: TypeBool, Group: "eve",
		Description: "Whether Suricata raised an alert on the flow."},
}
