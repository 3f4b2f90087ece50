package ocsf

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Version is the OCSF schema version the events follow (metadata.version).
const Version = "1.3.0"

// Types are the apitap event types that have an OCSF class.
var Types = []string{"detection", "transaction"}

// Maps says whether an event type has an OCSF class.
func Maps(typ string) bool { return typ == "detection" || typ == "transaction" }

// Class and category ids of OCSF 1.3.0.
const (
	ClassDetectionFinding = 2004 // category 2, Findings
	ClassAPIActivity      = 6003 // category 6, Application Activity
)

// Converter turns apitap events into OCSF events. It is stateless (the
// same input gives the same output) and safe for concurrent use.
type Converter struct {
	Version string // apitap version, for metadata.product.version
}

// Convert maps one event of type typ (its apitap JSON) to its OCSF event.
func (c *Converter) Convert(typ string, value []byte) ([]byte, error) {
	switch typ {
	case "detection":
		var d detectionIn
		if err := json.Unmarshal(value, &d); err != nil {
			return nil, fmt.Errorf("ocsf: detection: %w", err)
		}
		return json.Marshal(c.finding(&d))
	case "transaction":
		var t transactionIn
		if err := json.Unmarshal(value, &t); err != nil {
			return nil, fmt.Errorf("ocsf: transaction: %w", err)
		}
		return json.Marshal(c.apiActivity(&t))
	}
	return nil, fmt.Errorf("ocsf: %s events have no OCSF class", typ)
}

// The apitap events, as far as the mapping reads them (docs/events.md).
type (
	actorIn struct {
		IP          string `json:"ip"`
		Peer        string `json:"peer"`
		User        string `json:"user"`
		Session     string `json:"session"`
		APIKey      string `json:"api_key"`
		Fingerprint string `json:"fingerprint"`
	}
	evidenceIn struct {
		Location string `json:"location"`
		Name     string `json:"name,omitempty"`
		Value    string `json:"value,omitempty"`
		Rule     string `json:"rule,omitempty"`
		Hash     string `json:"hash,omitempty"`
	}
	detectionIn struct {
		Schema     string    `json:"schema"`
		Time       time.Time `json:"time"`
		Sensor     string    `json:"sensor"`
		ID         string    `json:"id"`
		Class      string    `json:"class"`
		Confirmed  bool      `json:"confirmed"`
		Severity   string    `json:"severity"`
		Confidence float64   `json:"confidence"`
		Actor      actorIn   `json:"actor"`
		Endpoint   struct {
			Host, Method, Path string
		} `json:"endpoint"`
		Evidence  []evidenceIn `json:"evidence"`
		FirstSeen time.Time    `json:"first_seen"`
		LastSeen  time.Time    `json:"last_seen"`
		Count     int          `json:"count"`
		Action    string       `json:"action"`
		Succeeded string       `json:"succeeded"`
	}
	addrIn struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	}
	messageIn struct {
		Proto   string          `json:"proto"`
		Reason  string          `json:"reason"`
		Headers [][2]string     `json:"headers"`
		Body    json.RawMessage `json:"body"`
		Interim int             `json:"interim"`
	}
	transactionIn struct {
		Schema string    `json:"schema"`
		Time   time.Time `json:"time"`
		Sensor string    `json:"sensor"`
		ID     string    `json:"id"`
		Flow   struct {
			ID     string          `json:"id"`
			Client addrIn          `json:"client"`
			Server addrIn          `json:"server"`
			VLAN   []int           `json:"vlan"`
			Tunnel json.RawMessage `json:"tunnel"`
		} `json:"flow"`
		Seq     int    `json:"seq"`
		Method  string `json:"method"`
		Host    string `json:"host"`
		Path    string `json:"path"`
		Query   string `json:"query"`
		Timings struct {
			RequestStart  time.Time `json:"request_start"`
			ResponseEnd   time.Time `json:"response_end"`
			DurationMicro int64     `json:"duration_us"`
		} `json:"timings"`
		Request  *messageIn `json:"request"`
		Status   int        `json:"status"`
		Response *messageIn `json:"response"`
		Flags    []string   `json:"flags"`
	}
)

// OCSF objects, with only the attributes the mapping fills (README.md has
// the table).
type (
	product struct {
		Name       string `json:"name"`
		VendorName string `json:"vendor_name"`
		Version    string `json:"version,omitempty"`
	}
	metadata struct {
		Version        string  `json:"version"`
		Product        product `json:"product"`
		UID            string  `json:"uid,omitempty"`
		CorrelationUID string  `json:"correlation_uid,omitempty"`
		LogName        string  `json:"log_name"`
	}
	analytic struct {
		Name   string `json:"name"`
		UID    string `json:"uid"`
		Type   string `json:"type"`
		TypeID int    `json:"type_id"`
	}
	findingInfo struct {
		UID           string    `json:"uid"`
		Title         string    `json:"title"`
		Desc          string    `json:"desc,omitempty"`
		Types         []string  `json:"types"`
		Analytic      *analytic `json:"analytic,omitempty"`
		FirstSeenTime int64     `json:"first_seen_time"`
		LastSeenTime  int64     `json:"last_seen_time"`
		DataSources   []string  `json:"data_sources"`
	}
	user struct {
		Name string `json:"name"`
	}
	session struct {
		UID string `json:"uid"`
	}
	actor struct {
		User    *user    `json:"user,omitempty"`
		Session *session `json:"session,omitempty"`
		AppName string   `json:"app_name,omitempty"`
	}
	endpoint struct {
		IP       string `json:"ip,omitempty"`
		Port     int    `json:"port,omitempty"`
		Hostname string `json:"hostname,omitempty"`
	}
	url struct {
		Hostname    string `json:"hostname,omitempty"`
		Path        string `json:"path,omitempty"`
		QueryString string `json:"query_string,omitempty"`
		Port        int    `json:"port,omitempty"`
		Scheme      string `json:"scheme,omitempty"`
	}
	header struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	httpRequest struct {
		HTTPMethod  string   `json:"http_method,omitempty"`
		URL         *url     `json:"url,omitempty"`
		UserAgent   string   `json:"user_agent,omitempty"`
		Version     string   `json:"version,omitempty"`
		UID         string   `json:"uid,omitempty"`
		HTTPHeaders []header `json:"http_headers,omitempty"`
	}
	httpResponse struct {
		Code        int      `json:"code"`
		Status      string   `json:"status,omitempty"`
		HTTPHeaders []header `json:"http_headers,omitempty"`
	}
	evidence struct {
		SrcEndpoint *endpoint    `json:"src_endpoint,omitempty"`
		DstEndpoint *endpoint    `json:"dst_endpoint,omitempty"`
		HTTPRequest *httpRequest `json:"http_request,omitempty"`
		Data        *evidenceIn  `json:"data,omitempty"`
	}
	resource struct {
		Name string `json:"name"`
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	observable struct {
		Name   string `json:"name"`
		Type   string `json:"type"`
		TypeID int    `json:"type_id"`
		Value  string `json:"value"`
	}
	base struct {
		ActivityID   int    `json:"activity_id"`
		ActivityName string `json:"activity_name"`
		CategoryUID  int    `json:"category_uid"`
		CategoryName string `json:"category_name"`
		ClassUID     int    `json:"class_uid"`
		ClassName    string `json:"class_name"`
		TypeUID      int    `json:"type_uid"`
		TypeName     string `json:"type_name"`
		Time         int64  `json:"time"`
		StartTime    int64  `json:"start_time,omitempty"`
		EndTime      int64  `json:"end_time,omitempty"`
		SeverityID   int    `json:"severity_id"`
		Severity     string `json:"severity"`
		StatusID     int    `json:"status_id"`
		Status       string `json:"status"`
		Message      string `json:"message"`
	}
	detectionFinding struct {
		base
		Count           int            `json:"count"`
		ConfidenceID    int            `json:"confidence_id"`
		Confidence      string         `json:"confidence"`
		ConfidenceScore int            `json:"confidence_score"`
		Metadata        metadata       `json:"metadata"`
		FindingInfo     findingInfo    `json:"finding_info"`
		Actor           *actor         `json:"actor,omitempty"`
		Resources       []resource     `json:"resources"`
		Evidences       []evidence     `json:"evidences"`
		Observables     []observable   `json:"observables,omitempty"`
		Unmapped        map[string]any `json:"unmapped"`
	}
	api struct {
		Operation string `json:"operation"`
		Service   struct {
			Name string `json:"name"`
		} `json:"service"`
		Request struct {
			UID string `json:"uid"`
		} `json:"request"`
		Response *struct {
			Code int `json:"code"`
		} `json:"response,omitempty"`
	}
	apiActivity struct {
		base
		StatusCode   string         `json:"status_code,omitempty"`
		Duration     int64          `json:"duration"`
		Metadata     metadata       `json:"metadata"`
		Actor        actor          `json:"actor"`
		API          api            `json:"api"`
		SrcEndpoint  endpoint       `json:"src_endpoint"`
		DstEndpoint  endpoint       `json:"dst_endpoint"`
		HTTPRequest  httpRequest    `json:"http_request"`
		HTTPResponse *httpResponse  `json:"http_response,omitempty"`
		Unmapped     map[string]any `json:"unmapped"`
	}
)

// severityIDs are OCSF's severity_id for apitap's severities.
var severityIDs = map[string]struct {
	id   int
	name string
}{
	"info": {1, "Informational"}, "low": {2, "Low"}, "medium": {3, "Medium"}, "high": {4, "High"}, "critical": {5, "Critical"},
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (c *Converter) product() product {
	return product{Name: "apitap", VendorName: "apitap", Version: c.Version}
}

// finding maps a detection to a Detection Finding (2004).
func (c *Converter) finding(d *detectionIn) *detectionFinding {
	f := &detectionFinding{}
	f.ClassUID, f.ClassName = ClassDetectionFinding, "Detection Finding"
	f.CategoryUID, f.CategoryName = 2, "Findings"
	// one apitap detection id is one finding: its first report creates
	// it, later reports (the aggregated count grew) update it
	f.ActivityID, f.ActivityName = 1, "Create"
	if d.Count > 1 {
		f.ActivityID, f.ActivityName = 2, "Update"
	}
	f.TypeUID = f.ClassUID*100 + f.ActivityID
	f.TypeName = "Detection Finding: " + f.ActivityName
	f.Time, f.StartTime, f.EndTime = ms(d.Time), ms(d.FirstSeen), ms(d.LastSeen)
	f.SeverityID, f.Severity = 0, "Unknown"
	if s, ok := severityIDs[d.Severity]; ok {
		f.SeverityID, f.Severity = s.id, s.name
	}
	f.StatusID, f.Status = 1, "New"
	f.Count = max(d.Count, 1)
	conf := min(max(d.Confidence, 0), 1)
	f.ConfidenceScore = int(math.Round(conf * 100))
	switch {
	case conf >= 0.8:
		f.ConfidenceID, f.Confidence = 3, "High"
	case conf >= 0.5:
		f.ConfidenceID, f.Confidence = 2, "Medium"
	default:
		f.ConfidenceID, f.Confidence = 1, "Low"
	}
	op := strings.TrimSpace(d.Endpoint.Method + " " + d.Endpoint.Host + d.Endpoint.Path)
	title := Title(d.Class)
	f.Message = title
	if op != "" {
		f.Message += " on " + op
	}
	if d.Actor.IP != "" {
		f.Message += " from " + d.Actor.IP
	}
	f.Metadata = metadata{Version: Version, Product: c.product(), UID: d.ID + ":" + strconv.Itoa(f.Count), LogName: "detection"}
	f.FindingInfo = findingInfo{UID: d.ID, Title: title, Types: []string{d.Class},
		FirstSeenTime: ms(d.FirstSeen), LastSeenTime: ms(d.LastSeen), DataSources: []string{"network traffic (passive capture)"}}
	if len(d.Evidence) > 0 && d.Evidence[0].Rule != "" {
		r := d.Evidence[0].Rule
		f.FindingInfo.Analytic = &analytic{Name: r, UID: r, Type: "Rule", TypeID: 1}
	}
	if d.Actor.User != "" || d.Actor.Session != "" {
		f.Actor = &actor{}
		if d.Actor.User != "" {
			f.Actor.User = &user{Name: d.Actor.User}
		}
		if d.Actor.Session != "" {
			f.Actor.Session = &session{UID: d.Actor.Session}
		}
	}
	f.Resources = []resource{}
	if op != "" {
		f.Resources = append(f.Resources, resource{Name: op, Type: "API Endpoint", UID: op})
	}
	ev := evidence{}
	if d.Actor.IP != "" {
		ev.SrcEndpoint = &endpoint{IP: d.Actor.IP}
	}
	if d.Endpoint.Host != "" {
		ev.DstEndpoint = &endpoint{Hostname: d.Endpoint.Host}
	}
	if d.Endpoint.Method != "" || d.Endpoint.Path != "" {
		ev.HTTPRequest = &httpRequest{HTTPMethod: d.Endpoint.Method, URL: &url{Hostname: d.Endpoint.Host, Path: d.Endpoint.Path}}
	}
	f.Evidences = []evidence{}
	for i := range d.Evidence {
		e := ev
		e.Data = &d.Evidence[i]
		f.Evidences = append(f.Evidences, e)
	}
	if len(d.Evidence) == 0 && (ev.SrcEndpoint != nil || ev.DstEndpoint != nil || ev.HTTPRequest != nil) {
		f.Evidences = append(f.Evidences, ev)
	}
	if d.Actor.IP != "" {
		f.Observables = append(f.Observables, observable{Name: "evidences.src_endpoint.ip", Type: "IP Address", TypeID: 2, Value: d.Actor.IP})
	}
	if d.Actor.User != "" {
		f.Observables = append(f.Observables, observable{Name: "actor.user.name", Type: "User Name", TypeID: 4, Value: d.Actor.User})
	}
	x := map[string]any{"schema": d.Schema, "sensor": d.Sensor, "class": d.Class, "severity": d.Severity,
		"confidence": d.Confidence, "confirmed": d.Confirmed, "action": d.Action}
	if d.Succeeded != "" {
		x["succeeded"] = d.Succeeded
	}
	a := map[string]string{}
	for k, v := range map[string]string{"peer": d.Actor.Peer, "api_key": d.Actor.APIKey, "fingerprint": d.Actor.Fingerprint} {
		if v != "" {
			a[k] = v
		}
	}
	if len(a) > 0 {
		x["actor"] = a
	}
	f.Unmapped = map[string]any{"apitap": x}
	return f
}

// apiActivity maps a transaction to an API Activity (6003).
func (c *Converter) apiActivity(t *transactionIn) *apiActivity {
	a := &apiActivity{}
	a.ClassUID, a.ClassName = ClassAPIActivity, "API Activity"
	a.CategoryUID, a.CategoryName = 6, "Application Activity"
	switch strings.ToUpper(t.Method) {
	case "POST":
		a.ActivityID, a.ActivityName = 1, "Create"
	case "GET", "HEAD":
		a.ActivityID, a.ActivityName = 2, "Read"
	case "PUT", "PATCH":
		a.ActivityID, a.ActivityName = 3, "Update"
	case "DELETE":
		a.ActivityID, a.ActivityName = 4, "Delete"
	case "":
		a.ActivityID, a.ActivityName = 0, "Unknown"
	default:
		a.ActivityID, a.ActivityName = 99, t.Method
	}
	a.TypeUID = a.ClassUID*100 + a.ActivityID
	a.TypeName = "API Activity: " + a.ActivityName
	a.Time = ms(t.Time)
	a.StartTime, a.EndTime = ms(t.Timings.RequestStart), ms(t.Timings.ResponseEnd)
	a.Duration = t.Timings.DurationMicro / 1000
	a.SeverityID, a.Severity = 1, "Informational"
	switch {
	case t.Status == 0:
		a.StatusID, a.Status = 0, "Unknown"
	case t.Status < 400:
		a.StatusID, a.Status = 1, "Success"
	default:
		a.StatusID, a.Status = 2, "Failure"
	}
	if t.Status != 0 {
		a.StatusCode = strconv.Itoa(t.Status)
	}
	a.Message = strings.TrimSpace(t.Method + " " + t.Host + t.Path)
	if t.Status != 0 {
		a.Message += " " + a.StatusCode
	}
	a.Metadata = metadata{Version: Version, Product: c.product(), UID: t.ID, CorrelationUID: t.Flow.ID, LogName: "transaction"}
	ua := ""
	var reqHeaders []header
	if t.Request != nil {
		for _, h := range t.Request.Headers {
			reqHeaders = append(reqHeaders, header{Name: h[0], Value: h[1]})
			if strings.EqualFold(h[0], "user-agent") && ua == "" {
				ua = h[1]
			}
		}
	}
	// The actor object needs one of user, session, process or app: a
	// passive sensor knows the client's application from its User-Agent
	a.Actor.AppName = ua
	if ua == "" {
		a.Actor.AppName = "unknown"
	}
	a.API.Operation = t.Method
	if a.API.Operation == "" {
		a.API.Operation = "unknown" // a response whose request was not seen (lost, or before the capture)
	}
	a.API.Service.Name = t.Host
	a.API.Request.UID = t.ID
	if t.Status != 0 {
		a.API.Response = &struct {
			Code int `json:"code"`
		}{t.Status}
	}
	a.SrcEndpoint = endpoint{IP: t.Flow.Client.IP, Port: t.Flow.Client.Port}
	a.DstEndpoint = endpoint{IP: t.Flow.Server.IP, Port: t.Flow.Server.Port, Hostname: t.Host}
	a.HTTPRequest = httpRequest{HTTPMethod: t.Method, URL: &url{Hostname: t.Host, Path: t.Path, QueryString: t.Query, Port: t.Flow.Server.Port, Scheme: "http"},
		UserAgent: ua, UID: t.ID, HTTPHeaders: reqHeaders}
	if t.Request != nil {
		a.HTTPRequest.Version = t.Request.Proto
	}
	if t.Response != nil && t.Status != 0 {
		r := &httpResponse{Code: t.Status, Status: t.Response.Reason}
		for _, h := range t.Response.Headers {
			r.HTTPHeaders = append(r.HTTPHeaders, header{Name: h[0], Value: h[1]})
		}
		a.HTTPResponse = r
	}
	x := map[string]any{"schema": t.Schema, "sensor": t.Sensor, "seq": t.Seq}
	if len(t.Flags) > 0 {
		x["flags"] = t.Flags
	}
	if len(t.Flow.VLAN) > 0 {
		x["vlan"] = t.Flow.VLAN
	}
	if len(t.Flow.Tunnel) > 0 {
		x["tunnel"] = t.Flow.Tunnel
	}
	if t.Request != nil && len(t.Request.Body) > 0 {
		x["request_body"] = t.Request.Body
	}
	if t.Response != nil && len(t.Response.Body) > 0 {
		x["response_body"] = t.Response.Body
	}
	a.Unmapped = map[string]any{"apitap": x}
	return a
}

// titles name the detection classes of CONTRACT.md (finding_info.title).
var titles = map[string]string{
	"sqli": "SQL injection", "xss": "Cross-site scripting", "path_traversal": "Path traversal",
	"cmd_injection": "Command injection", "ssrf": "Server-side request forgery", "log4shell": "Log4Shell (JNDI injection)",
	"xxe": "XML external entity", "ssti": "Server-side template injection", "nosqli": "NoSQL injection",
	"crlf_injection": "CRLF injection", "open_redirect": "Open redirect", "xpath_ldap_injection": "XPath or LDAP injection",
	"deserialization": "Insecure deserialization", "file_upload": "Malicious file upload", "prototype_pollution": "Prototype pollution",
	"request_smuggling": "HTTP request smuggling", "evasion": "Detection evasion", "scanner": "Vulnerability scanner", "cve": "Known CVE exploit",
	"graphql_introspection": "GraphQL introspection", "graphql_depth": "GraphQL query depth abuse", "graphql_batching": "GraphQL batching abuse",
	"graphql_alias_abuse": "GraphQL alias abuse", "graphql_csrf": "GraphQL CSRF",
	"credential_stuffing": "Credential stuffing", "brute_force": "Brute force", "account_takeover": "Account takeover",
	"user_enumeration": "User enumeration", "bola": "Broken object level authorization", "rate_abuse": "Rate abuse",
	"dos": "Denial of service", "bot": "Automated client (bot)", "scraping": "Scraping", "low_and_slow": "Low-and-slow attack",
	"exfiltration": "Data exfiltration", "sensitive_data": "Sensitive data exposure", "pii_in_url": "Personal data in URL",
	"plaintext_credentials": "Credentials in plaintext", "weak_auth": "Weak authentication", "jwt_weakness": "JWT weakness",
	"info_leak": "Information leak", "shadow_endpoint": "Shadow API endpoint", "zombie_endpoint": "Zombie API endpoint",
	"undocumented_method": "Undocumented method", "undocumented_parameter": "Undocumented parameter",
	"undocumented_header": "Undocumented header", "undocumented_status": "Undocumented status code", "schema_violation": "Schema violation",
	"risk": "Endpoint risk change",
}

// Title is a detection class's human name (the class itself, spaced, when
// it is not one of the contract's).
func Title(class string) string {
	if t, ok := titles[class]; ok {
		return t
	}
	if class == "" {
		return "Detection"
	}
	return strings.ReplaceAll(class, "_", " ")
}
