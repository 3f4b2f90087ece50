package attack

import (
	"strings"
)

// Path traversal and local file access. A value climbs out of its
// directory (two or more ../ in any of the forms servers accept: ..\,
// ..;/, .../, ....//, hex 0x2e, NUL padding), climbs once towards a
// sensitive file, or names a sensitive file by its absolute path (system
// accounts, process and kernel files, keys and cloud credentials,
// application secrets, Windows system files). The request path itself
// is also checked for hidden files and directories (/.env, /.git/,
// editors' and AI tools' settings), dev-server file access (/@fs/) and
// backups and logs left in the web root.

// sensitiveFiles are targets of traversal and file inclusion, found in
// a value that climbs (../) or names an absolute path.
var sensitiveFiles = []string{"etc/passwd", "etc/shadow", "etc/group", "etc/hosts", "etc/issue", "etc/master.passwd", "etc/subuid",
	"etc/subgid", "etc/sudoers", "etc/crontab", "etc/fstab", "etc/motd", "etc/profile", "etc/environment", "etc/my.cnf", "etc/mysql",
	"etc/apache2", "etc/httpd", "etc/nginx", "etc/ssh", "etc/ssl/private", "etc/resolv.conf", "etc/hostname", "etc/os-release",
	"etc/security", "etc/pam.d", "etc/gshadow", "etc/inittab", "etc/lsb-release", "etc/redhat-release", "etc/php", "proc/self",
	"proc/version", "proc/cmdline", "proc/net", "proc/sys", "proc/interrupts", "proc/mounts", "proc/cpuinfo", "proc/meminfo",
	"proc/1/", "proc/sched_debug", "proc/kcore", "sys/class", "sys/kernel", "sys/devices", "sys/firmware", "sys/power", "sys/module",
	"root/", ".ssh/", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "authorized_keys", "known_hosts", ".aws/credentials", ".aws/config",
	".azure/", ".config/gcloud", ".kube/config", ".docker/", ".npmrc", ".pypirc", ".netrc", ".pgpass", ".my.cnf", ".git/", ".svn/",
	".hg/", ".env", ".htaccess", ".htpasswd", ".bash_history", ".zsh_history", ".mysql_history", ".psql_history", "web.config",
	"web-inf/", "meta-inf/", "boot.ini", "win.ini", "system.ini", "system32", "windows/repair", "inetpub/", "wp-config", "config.php",
	"configuration.php", "settings.php", "localsettings.php", "database.yml", "secrets.yml", "credentials.xml", "application.properties",
	"appsettings.json", ".ds_store", "run/secrets", "var/run/secrets", "serviceaccount/token", "docker.sock", "var/lib/mysql",
	"var/log/apache", "var/log/nginx", "var/log/httpd", "var/log/auth", "var/log/secure", "var/log/syslog", "var/mail", "var/spool/cron",
	"usr/local/apps", "httpd.conf", "apache2.conf", "nginx.conf", "php.ini", "my.ini", "ntuser.dat", "sam", "pagefile.sys", "hiberfil.sys",
	"%systemroot%", "%windir%", "c:/windows", "c:/winnt", "c:/inetpub", "c:/boot", ".gnupg", ".vault-token", "terraform.tfstate",
	".git-credentials", "credentials.json", "service-account", "gcloud/", "etc/kubernetes", "kubelet", "etcd/"}

var (
	sensitiveNeedles = newNeedles(sensitiveFiles...)
	strongNeedles    = newNeedles(strongAbsolute...)
)

// absoluteStarts are the roots of sensitive absolute paths.
var absoluteStarts = []string{"/etc/", "/proc/", "/sys/", "/root/", "/home/", "/var/", "/usr/", "/run/", "/dev/", "c:/", "file:", "~/", "%systemroot%", "%windir%", "/private/", "/opt/"}

// strongAbsolute are sensitive paths named absolutely that no value
// carries for a good reason, wherever they are in it.
var strongAbsolute = []string{"/etc/passwd", "/etc/shadow", "/etc/master.passwd", "/etc/group", "/etc/hosts", "/etc/subuid", "/etc/sudoers",
	"/etc/issue", "/etc/gshadow", "/proc/self/", "/proc/version", "/proc/net/", "/proc/sys/", "/proc/1/", "/proc/interrupts",
	"/proc/cmdline", "/proc/mounts", "/sys/class", "/sys/kernel", "/sys/devices", "/sys/firmware", "/root/.", "/.ssh/", "/id_rsa",
	"/.aws/credentials", "/.docker/", "/.kube/config", "/.git/config", "/.env", "/.htpasswd", "/boot.ini", "/win.ini",
	"/windows/system32", "/var/run/secrets", "/run/secrets", "/serviceaccount/token", "/etc/kubernetes", "/.bash_history", "/.netrc",
	"/web-inf/web.xml", "/.git-credentials", "/.vault-token", "/etc/ssl/private", "/.gnupg", "%systemroot%", "%windir%", "/etc/apache2/",
	"/etc/httpd/", "/etc/nginx/", "/etc/my.cnf", "/etc/mysql/", "/etc/php", "/.pgpass"}

// relativeSecrets are credential files named relative to a home or
// project directory, as a whole value.
var relativeSecrets = []string{".ssh/", ".aws/credentials", ".aws/config", ".docker/config", ".kube/config", ".git/config", ".git-credentials",
	".netrc", ".pgpass", ".htpasswd", ".bash_history", ".npmrc", ".pypirc", ".vault-token", ".gnupg/", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"}

// pathForms undoes the spellings of path characters traversal payloads
// use: backslashes, NUL padding, hex-written dots and slashes.
var pathForms = strings.NewReplacer("\\", "/", "\x00", "", "0x2e", ".", "0x2f", "/", "0x5c", "/")

// traversal is the detector of path traversal and local file access on
// a lower-cased value.
func traversal(lv string, in input, d *detectors) (bool, string, int) {
	s := lv
	if strings.ContainsAny(s, "\\\x00") || strings.Contains(s, "0x") {
		s = pathForms.Replace(s)
	}
	obfuscated := strings.Contains(lv, "0x") || strings.IndexByte(lv, 0) >= 0
	ups, first := 0, -1
	for i := strings.Index(s, ".."); i >= 0 && i < len(s); {
		j := i
		for j < len(s) && s[j] == '.' {
			j++
		}
		end := j == len(s)
		next := byte(0)
		if !end {
			next = s[j]
		}
		if j-i <= 4 && (end && i > 0 && s[i-1] == '/' || next == '/' || next == ';' && j+1 < len(s) && (s[j+1] == '/' || s[j+1] == '.')) &&
			(i == 0 || strings.IndexByte("/=: ;'\"", s[i-1]) >= 0 || i >= 1 && s[i-1] == '.') {
			ups++
			if first < 0 {
				first = i
			}
		}
		n := strings.Index(s[j:], "..")
		if n < 0 {
			break
		}
		i = j + n
	}
	// the sensitive files are looked for when the value climbs or starts
	// as an absolute path
	target := ""
	if ups > 0 || absoluteStart(s) || strings.Contains(s, " /") {
		if i, _ := sensitiveNeedles.first(s); i >= 0 {
			target = sensitiveFiles[i]
		}
	}
	switch {
	case ups >= 2:
		return true, "dot_dot_slash", max(first, 0)
	case ups == 1 && target != "":
		return true, "dot_dot_slash_target", max(first, 0)
	case ups == 1 && (in.name == "filename" || strings.HasSuffix(in.name, "filename")):
		return true, "filename_traversal", max(first, 0)
	case ups == 1 && obfuscated && strings.Contains(s, "../"):
		return true, "encoded_dot_dot_slash", max(first, 0)
	}
	if t := strings.TrimPrefix(strings.TrimPrefix(s, "./"), "~/"); len(t) > 2 && (t[0] == '.' || t[0] == 'i') {
		for _, p := range relativeSecrets {
			if strings.HasPrefix(t, p) {
				return true, "sensitive_file", 0
			}
		}
	}
	if strings.ContainsAny(s, "/%") && strongNeedles.any(s) {
		for _, p := range strongAbsolute {
			if i := strings.Index(s, p); i >= 0 && (p[0] != '/' || i == 0 || strings.IndexByte(" =:'\"(,;|&`<>[{", s[i-1]) >= 0 || pathRoot(s, i)) {
				return true, "sensitive_file", i
			}
		}
	}
	if target != "" {
		if absoluteStart(s) {
			return true, "absolute_sensitive_path", 0
		}
		if i := strings.Index(s, " /"); i >= 0 && strings.Contains(s[i:], target) && !d.isProse(lv) {
			return true, "absolute_sensitive_path", i + 1
		}
	}
	return false, "", 0
}

// pathRoot says whether the path at i is rooted in a directory of the
// file system (the /etc of /usr/local/etc/passwd is not; a value that is
// a path starting there is).
func pathRoot(s string, i int) bool {
	j := strings.LastIndexAny(s[:i], " =:'\"")
	root := s[j+1 : i]
	for _, r := range [...]string{"/root", "/home/", "/var/www", "/srv", "/app", "/opt", "/usr/local/apps", "c:", "/path/to"} {
		if strings.HasPrefix(root, r) {
			return true
		}
	}
	return false
}

// absoluteStart says whether s starts as an absolute path (or a file URL).
func absoluteStart(s string) bool {
	for _, a := range absoluteStarts {
		if strings.HasPrefix(s, a) {
			return true
		}
	}
	return strings.HasPrefix(s, "file://")
}

// hiddenFile checks the path of a request for hidden files and
// directories, dev-server file access and backups and logs.
func (w *worker) hiddenFile(path string) {
	if w.off&cTraversal != 0 || len(path) < 2 {
		return
	}
	lp := lowerASCII(path)
	in := input{loc: "path"}
	if strings.HasPrefix(lp, "/@fs/") || strings.HasPrefix(lp, "/@id/") || strings.Contains(lp, "/@fs/") {
		w.add(cTraversal, "dev_server_file", in, path, 0)
		return
	}
	for rest := lp; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if len(seg) > 1 && seg[0] == '.' && seg[1] != '.' && seg != ".well-known" {
			w.add(cTraversal, "hidden_file", in, path, strings.Index(lp, "/"+seg))
			return
		}
		if rest == "" && seg != "" {
			for _, x := range [...]string{".sql", ".sql.gz", ".sql.zip", ".sql.bz2", ".sqlite", ".db", ".bak", ".old", ".orig", ".swp", ".save", "~", ".tfstate", ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".log", ".dump"} {
				if strings.HasSuffix(seg, x) && !strings.HasPrefix(lp, "/static/") {
					w.add(cTraversal, "sensitive_file_request", in, path, strings.LastIndexByte(lp, '/'))
					return
				}
			}
			if strings.HasPrefix(seg, "backup.") || strings.HasPrefix(seg, "dump.") || strings.HasPrefix(seg, "db.") && strings.Contains(seg, ".sql") {
				w.add(cTraversal, "sensitive_file_request", in, path, strings.LastIndexByte(lp, '/'))
				return
			}
		}
	}
	for _, p := range [...]string{"/sys/class", "/proc/", "/wp-config", "/etc/passwd", "/web-inf/", "/meta-inf/"} {
		if i := strings.Index(lp, p); i >= 0 {
			w.add(cTraversal, "sensitive_file_request", in, path, i)
			return
		}
	}
}
