package attack

import (
	"strings"
)

// File uploads. A multipart part with a file name (and the file name
// headers some upload APIs use) is an upload of code the server may run
// when its name ends in an extension servers execute (.php, .jsp, .aspx,
// .cgi...), hides one behind another or behind characters file systems
// drop (shell.php.jpg, shell.asp;.jpg, "shell.jsp ", shell.php%00.png),
// replaces server configuration (.htaccess, web.config, .user.ini), or
// when its content is code (a PHP, JSP or ASP opening tag, a shebang, a
// Windows executable declared as something else).

// execExts are file extensions servers run.
var execExts = set("php", "php2", "php3", "php4", "php5", "php6", "php7", "php8", "phtml", "pht", "phar", "phps", "pgif", "shtml", "shtm",
	"stm", "jsp", "jspx", "jsw", "jsv", "jspf", "jhtml", "asp", "aspx", "asa", "asax", "ascx", "ashx", "asmx", "axd", "cer", "cdx", "cshtml",
	"vbhtml", "cgi", "pl", "pm", "py", "pyc", "rb", "sh", "bash", "exe", "dll", "bat", "cmd", "com", "scr", "ps1", "psm1", "vbs", "vbe",
	"wsf", "hta", "jar", "war", "ear", "msi", "so", "elf", "inc", "module", "htaccess", "config")

// configFiles are server configuration files an upload must not replace.
var configFiles = set(".htaccess", "web.config", ".user.ini", "php.ini", ".htpasswd", "httpd.conf")

// uploadName examines an uploaded file's name.
func uploadName(filename string) (string, int) {
	lf := strings.ToLower(strings.TrimSpace(filename))
	if i := strings.LastIndexAny(lf, "/\\"); i >= 0 {
		lf = lf[i+1:]
	}
	if configFiles[strings.TrimRight(lf, ". ")] {
		return "server_config", 0
	}
	// characters file systems drop: a NUL, trailing dots and blanks, ;
	trimmed := strings.TrimRight(strings.ToLower(filename), ". \t")
	cut := strings.ToLower(filename)
	if k := strings.IndexAny(cut, "\x00;"); k >= 0 {
		if e := extOf(cut[:k]); execExts[e] {
			return "hidden_extension", 0
		}
	}
	if trimmed != strings.ToLower(filename) && execExts[extOf(trimmed)] {
		return "hidden_extension", 0
	}
	parts := strings.Split(lf, ".")
	if len(parts) < 2 {
		return "", 0
	}
	if e := strings.TrimSpace(parts[len(parts)-1]); execExts[e] {
		return "executable_extension", 0
	}
	for _, p := range parts[1 : len(parts)-1] {
		if execExts[strings.TrimSpace(p)] && p != "config" && p != "inc" && p != "module" {
			return "double_extension", 0
		}
	}
	return "", 0
}

func extOf(f string) string {
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		return strings.TrimSpace(f[i+1:])
	}
	return ""
}

// uploadContent examines an uploaded file's content against its
// declared type.
func uploadContent(ctype, content string) string {
	head := content
	if len(head) > 4096 {
		head = head[:4096]
	}
	lh := strings.ToLower(head)
	switch {
	case strings.Contains(lh, "<?php") || strings.Contains(lh, "<?=") && strings.Contains(lh, "?>"):
		return "php_code"
	case strings.Contains(lh, "<%@") || strings.Contains(lh, "<%") && (strings.Contains(lh, "runtime") || strings.Contains(lh, "request") || strings.Contains(lh, "eval") || strings.Contains(lh, "execute")):
		return "server_script"
	case strings.HasPrefix(head, "#!/") && !strings.HasPrefix(strings.ToLower(ctype), "text/"):
		return "shebang"
	case strings.HasPrefix(head, "MZ") && len(head) > 64 && strings.HasPrefix(strings.ToLower(ctype), "image/"):
		return "executable_content"
	case strings.HasPrefix(strings.ToLower(ctype), "image/svg") && (strings.Contains(lh, "<script") || strings.Contains(lh, " on")):
		return "active_svg"
	}
	return ""
}

// upload examines one uploaded file (a multipart part with a file name).
func (w *worker) upload(field, filename, ctype, content string) {
	if w.off&cUpload != 0 {
		return
	}
	in := input{loc: "body", name: field}
	if rule, _ := uploadName(filename); rule != "" {
		w.add(cUpload, rule, in, filename, 0)
		return
	}
	if rule := uploadContent(ctype, content); rule != "" {
		w.add(cUpload, rule, in, filename, 0)
	}
}

// uploadHeader examines the file name headers of raw uploads
// (X-File-Name, X-Filename, Slug).
func (w *worker) uploadHeader(name, value string) {
	if w.off&cUpload != 0 || value == "" {
		return
	}
	if rule, _ := uploadName(value); rule != "" {
		w.add(cUpload, rule, input{loc: "header", name: name}, value, 0)
	}
}
