package attack

import (
	"strings"
)

// Command injection. A value is read the way a shell would read it:
// cut into commands at the separators (; | || & && newline, backticks,
// $( ), <( ), >( ), { }), each command's words stripped of what shells
// ignore and attackers add to hide a name (quotes, backslashes, empty
// variables such as $@ or ${x}, one-character classes such as [s]),
// and the command name looked up (a path is looked up by its last
// element, a glob such as /bi?/c?t against the names it can match).
// Names that are also English words (cat, id, sleep, time) need an
// argument that looks like a shell's: an option, a path, a redirection.
// A command at the start of a value counts like one after a separator,
// but must have arguments (a value "python" is a language, not a call).
// Backticks in prose are Markdown code, not command substitution.
// Structures no data has are reported wherever they are: shellshock's
// "() {", fork bombs, /dev/tcp redirections, here-strings, pipes into a
// shell, ${IFS}, Windows batch FOR and IF, cmd /c and PowerShell
// cmdlets, server-side includes, mail protocol commands after a line
// break, and calls of the shell from PHP, Python, Perl, Ruby and Node.

// Command kinds in the tables.
const (
	cmdWeak   = 1 + iota // an English word too: needs shell-like arguments
	cmdStrong            // a tool: flagged after a separator on its own
	cmdPrefix            // runs the command after it (sudo, time, nohup)
	cmdAlone             // flagged even alone as a whole value (whoami)
)

// commands maps command names to their kind.
var commands = func() map[string]uint8 {
	m := map[string]uint8{}
	add := func(kind uint8, names string) {
		for _, n := range strings.Fields(names) {
			m[n] = kind
		}
	}
	add(cmdWeak, `cat ls id echo sleep ping rm type dir more head tail env set pwd kill cut date time top find file cp mv tr rev at dig w who ip
		free sort less test touch alias source eval printf grep ps column bridge fold comm perf chef ex vi vim make mkdir rmdir ln
		stat uniq paste split wc tee nl od last finger route arp ss shutdown reboot halt kill trap call goto del copy move ren start
		net reg at sc runas print expand compact format label mode path title ver vol attrib assoc bcdedit query cd chdir cls md rd
		pushd popd exit break rem pause shift setlocal endlocal color prompt tree xcopy robocopy where which whereis locate ll
		open show run exec apt yum dnf gem pip pip3 pipx npm node uptime groups hostname`)
	add(cmdStrong, `wget curl nc ncat netcat socat telnet ssh scp sftp rsync tftp ftp bash sh zsh ksh csh tcsh dash ash busybox
		powershell pwsh cmd cmd.exe powershell.exe python python2 python3 perl php ruby nodejs lua tclsh gcc c89 c99 cc gdb strace ltrace
		chmod chown chgrp passwd useradd adduser usermod userdel crontab base64 base32 xxd hexdump openssl gzip gunzip zcat bzip2 bunzip2
		bzcat xz unxz xzcat zstd zstdcat lz4 tar bsdtar unzip 7z dd nohup setsid nmap masscan tcpdump iptables systemctl journalctl dmesg
		lsof pkill killall lsmod insmod rmmod modprobe mount umount awk gawk nawk sed egrep fgrep xargs certutil bitsadmin mshta rundll32
		regsvr32 wmic schtasks taskkill tasklist regedit bcdboot vssadmin wevtutil netsh icacls cacls cscript wscript msiexec ansible
		ansible-playbook ansible-galaxy ansible-vault ansible-console ansible-doc ansible-inventory ansible-pull ansible-config chef-client
		chef-shell chef-vault chef-run cscli aa-disable aa-enforce aa-complain apt-get aptitude dpkg rpm irb rmt rmt-tar rmt-dump uconv
		flock cpulimit printenv unalias lwp-download lwp-request axel aria2c ssh-keygen ssh-copy-id docker kubectl mysql psql sqlite3
		mongo redis-cli xterm screen tmux chattr lsattr getent hostnamectl traceroute tracert pathping mktemp mkfifo mknod telnetd
		nslookup ifconfig ipconfig netstat whoami uname visudo sudoedit tac zstdcat pkexec doas msfconsole msfvenom ngrok php-cgi
		perl5 python3.10 python3.11 python3.12 jshell php7 php8 pdftk
		wmiprvse whoami.exe net.exe net1 nltest dsquery csvde ldifde klist qwinsta quser powercat invoke-expression iex iwr irm
		invoke-webrequest invoke-restmethod start-process new-object invoke-wmimethod iwmi get-wmiobject gwmi set-mppreference
		add-mppreference start-bitstransfer invoke-command icm invoke-item`)
	add(cmdPrefix, `sudo nohup nice ionice timeout strace ltrace stdbuf unbuffer setsid chroot builtin command exec xargs watch doas time env`)
	add(cmdAlone, `whoami ifconfig ipconfig visudo netstat uname hostnamectl`)
	return m
}()

// commandStart says whether a value starts with a command name (or a
// path to one): the prefilter has no keyword for every command, so the
// detector is called for values that start with one.
func commandStart(v string) bool {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '"' || v[i] == '\'' || v[i] == '(' || v[i] == '{') {
		i++
	}
	j := i
	for j < len(v) && j-i < 24 && v[j] != ' ' && v[j] != '\t' && v[j] != ';' && v[j] != '|' && v[j] != '&' && v[j] != '\n' && v[j] != '(' && v[j] != '"' && v[j] != '\'' {
		j++
	}
	if j == i || j-i >= 24 {
		return false
	}
	w := v[i:j]
	if k := strings.LastIndexByte(w, '/'); k >= 0 {
		if w[0] != '/' && !strings.HasPrefix(w, "bin/") {
			return false
		}
		w = w[k+1:]
	}
	var b [24]byte
	n := copy(b[:], w)
	for k := 0; k < n; k++ {
		b[k] = lowerTab[b[k]]
	}
	_, ok := commands[string(b[:n])]
	return ok || string(b[:n]) == "for" || string(b[:n]) == "if"
}

// shellWords is the scratch space of the shell reader.
type shellWords struct {
	words []string
	buf   []byte
}

// shellSeps are the bytes that end a command.
func shellSep(c byte) bool {
	return c == ';' || c == '|' || c == '&' || c == '\n' || c == '\r' || c == '`' || c == '(' || c == ')' || c == '{' || c == '}'
}

// shellCheck is the command injection detector on lv (lower case).
func (d *detectors) shellCheck(lv string, in input) (bool, string, int) {
	if len(lv) > 4096 {
		lv = lv[:4096]
	}
	if rule, at := shellStructures(lv); rule != "" {
		return true, rule, at
	}
	prose := isProse(lv)
	// the commands of the value: from its start and after each separator
	for i := 0; i <= len(lv); {
		sep := byte(0)
		start := i
		if i > 0 {
			sep = lv[i-1]
		}
		// the command runs to the next separator
		j := i
		for j < len(lv) && !shellSep(lv[j]) {
			if lv[j] == '$' && j+1 < len(lv) && lv[j+1] == '(' {
				break
			}
			if (lv[j] == '<' || lv[j] == '>') && j+1 < len(lv) && lv[j+1] == '(' {
				break
			}
			j++
		}
		if !(sep == '`' && prose) && !(sep == '(' && !shellSubst(lv, i-1)) && !(sep == '{' && !(i >= 2 && lv[i-2] == '$')) && !(sep == '}' || sep == ')' && prose) {
			if rule, at := d.command(lv[start:j], start, sep, prose, in); rule != "" {
				return true, rule, at
			}
		}
		if j >= len(lv) {
			break
		}
		// skip the separator (two bytes for &&, ||, $(, <(, >()
		i = j + 1
		if (lv[j] == '$' || lv[j] == '<' || lv[j] == '>') && i < len(lv) && lv[i] == '(' {
			i++
		}
		for i < len(lv) && (lv[i] == '&' || lv[i] == '|') && i-j < 2 {
			i++
		}
	}
	return false, "", 0
}

// shellSubst says whether the '(' at i opens a subshell or substitution
// ($( ), <( ), >( ), or a ( after a separator), not a parenthesis of
// prose or of a function call.
func shellSubst(lv string, i int) bool {
	if i <= 0 {
		return true
	}
	switch lv[i-1] {
	case '$', '<', '>', ';', '|', '&', '(', '`':
		return true
	}
	return false
}

// command examines one command (s, at offset at of the value) that
// follows the separator sep (0 at the start of the value).
func (d *detectors) command(s string, at int, sep byte, prose bool, in input) (string, int) {
	ws := d.sh.split(s)
	if len(ws) == 0 {
		return "", 0
	}
	k := 0
	// variable assignments (a=b cmd) and prefix commands (sudo, time)
	for k < len(ws) && (strings.IndexByte(ws[k], '=') > 0 && !strings.HasPrefix(ws[k], "-") || commands[ws[k]] == cmdPrefix && k+1 < len(ws)) {
		if commands[ws[k]] == cmdPrefix && ws[k] == "timeout" && k+1 < len(ws) {
			k++ // timeout's duration
		}
		k++
	}
	if k >= len(ws) {
		return "", 0
	}
	raw := ws[k]
	name, obf := cleanWord(raw)
	if strings.IndexByte(name, '/') >= 0 {
		if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "bin/") && !strings.HasPrefix(name, "./") {
			return "", 0
		}
		name = name[strings.LastIndexByte(name, '/')+1:]
	}
	kind := commands[name]
	if kind == 0 && strings.ContainsAny(name, "?*[") && len(name) >= 2 {
		if g := globCommand(name); g != "" {
			kind, name, obf = commands[g], g, true
		}
	}
	if kind == 0 {
		if sep == 0 && k == 0 {
			return batchOrCmdlet(ws, at)
		}
		if r, a := batchOrCmdlet(ws, at); r != "" {
			return r, a
		}
		return "", 0
	}
	args := ws[k+1:]
	shellArgs := shellLikeArgs(args, sep != 0)
	prefixed := k > 0
	if sep == 0 {
		at = 0
	} else {
		at--
	}
	if sep == 0 && prose {
		return "", 0 // a sentence that starts with a command's name
	}
	switch {
	case obf && (kind != cmdWeak || len(name) >= 3):
		return "obfuscated_" + name, at
	case kind == cmdWeak:
		if shellArgs || sep != 0 && len(args) == 0 && !prose && weakAlone[name] ||
			sep != 0 && len(args) == 1 && isDigits(args[0]) && (name == "sleep" || name == "ping" || name == "kill") {
			return "command_" + name, at
		}
	case kind == cmdStrong || kind == cmdAlone || kind == cmdPrefix:
		lineBreak := sep == '\n' || sep == '\r'
		if sep != 0 && !lineBreak && !(prose && sep != ';' && sep != '|' && sep != '`' && sep != '(' && len(args) == 0) {
			return "command_" + name, at
		}
		if shellArgs || prefixed && !prose && (kind == cmdAlone || len(args) > 0) || kind == cmdAlone && len(ws) == 1 && !in.key && !lineBreak {
			return "command_" + name, at
		}
	}
	return "", 0
}

// weakAlone are the English-word commands that are flagged after a
// separator without arguments (;id, |ps, ;env): reconnaissance.
var weakAlone = set("id", "ls", "ps", "env", "set", "pwd", "who", "w", "uptime", "dir", "ll", "hostname", "groups", "printenv", "ver", "tasklist")

// split cuts a command into its words, lower case, with quotes,
// backslashes and the empty variables attackers use to hide names kept
// in the words (cleanWord strips them).
func (sw *shellWords) split(s string) []string {
	ws := sw.words[:0]
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',' && len(ws) == 0) {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		var q byte
		for j < len(s) {
			c := s[j]
			if q != 0 {
				if c == q {
					q = 0
				}
				j++
				continue
			}
			if c == '\'' || c == '"' {
				q = c
				j++
				continue
			}
			if c == '\\' && j+1 < len(s) {
				j += 2
				continue
			}
			if c == ' ' || c == '\t' {
				break
			}
			j++
		}
		ws = append(ws, s[i:j])
		if len(ws) >= 32 {
			break
		}
		i = j
	}
	sw.words = ws
	return ws
}

// cleanWord strips what a shell removes or expands to nothing: quotes,
// backslashes, $@ $* $! $? $- $_ $$ $#, ${x} and $x between letters,
// one-character classes [s]. obf says something was stripped.
func cleanWord(w string) (string, bool) {
	if !strings.ContainsAny(w, "'\"\\$[") {
		return w, false
	}
	var b strings.Builder
	obf := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '\'' || c == '"' || c == '\\':
			obf = true
		case c == '$' && i+1 < len(w) && strings.IndexByte("@*!?-_$#0123456789", w[i+1]) >= 0:
			obf = true
			i++
		case c == '$' && i+1 < len(w) && w[i+1] == '{':
			j := strings.IndexByte(w[i:], '}')
			if j < 0 {
				b.WriteByte(c)
				continue
			}
			obf = true
			i += j
		case c == '$' && i > 0 && isWordByte(w[i-1]):
			// $u in una$ume: a variable name runs to a non-letter, or is
			// one letter before more of the word
			j := i + 1
			for j < len(w) && isWordByte(w[j]) {
				j++
			}
			if j-i == 2 || j == len(w) || w[j] == '/' {
				obf = true
				i = j - 1
				continue
			}
			b.WriteByte(c)
		case c == '[' && i+2 < len(w) && w[i+2] == ']':
			b.WriteByte(w[i+1])
			obf = true
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), obf
}

// globCommand matches a globbed name (c?t, /bi?/ca*, [c]at already
// cleaned) against the strong commands and a few weak ones; "" when
// several or none match.
func globCommand(g string) string {
	found := ""
	for _, c := range globTargets {
		if globMatch(g, c) {
			if found != "" && found != c {
				return ""
			}
			found = c
		}
	}
	return found
}

var globTargets = []string{"cat", "bash", "sh", "nc", "ncat", "wget", "curl", "python", "python3", "perl", "whoami", "uname", "id", "ls",
	"passwd", "chmod", "base64", "nmap", "netcat", "ifconfig", "php", "ruby", "busybox"}

// globMatch is shell glob matching of ? * and [...] (classes match any
// byte).
func globMatch(g, s string) bool {
	for len(g) > 0 {
		switch g[0] {
		case '*':
			for k := 0; k <= len(s); k++ {
				if globMatch(g[1:], s[k:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		case '[':
			j := strings.IndexByte(g, ']')
			if j < 0 || s == "" {
				return false
			}
			g = g[j:]
		default:
			if s == "" || s[0] != g[0] {
				return false
			}
		}
		g, s = g[1:], s[1:]
	}
	return s == ""
}

// shellLikeArgs says whether some argument looks like a shell's: an
// option, a path, a redirection to a file or descriptor, a URL, a host,
// a glob over a path, a batch %variable%, and after a separator also a
// $variable.
func shellLikeArgs(args []string, afterSep bool) bool {
	for i, a := range args {
		if a == "" {
			continue
		}
		c := a[0]
		switch {
		case c == '-' && len(a) > 1 && (isAlnum(a[1]) || a[1] == '-'):
			return true
		case c == '/' && len(a) > 1 && (isAlnum(a[1]) || a[1] == '.' || a[1] == '?' || a[1] == '*' || a[1] == '['):
			return true
		case c == '~' && (len(a) == 1 || a[1] == '/'), strings.HasPrefix(a, "./"), strings.HasPrefix(a, "../"):
			return true
		case c == '>' || c == '<' || c >= '0' && c <= '9' && len(a) > 1 && (a[1] == '>' || a[1] == '<'):
			t := strings.TrimLeft(a, "0123456789<>&")
			if t == "" && i+1 < len(args) {
				t = args[i+1]
			}
			if strings.HasPrefix(t, "/") || strings.HasPrefix(t, "&") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, ">&") || strings.HasPrefix(a, "&>") {
				return true
			}
		case c == '$' && afterSep:
			return true
		case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "ftp://"):
			return true
		case strings.ContainsAny(a, "*?") && strings.IndexByte(a, '/') >= 0:
			return true
		case c == '%' && strings.Count(a, "%") >= 2:
			return true
		case strings.Contains(a, "/dev/") || strings.Contains(a, "/etc/") || strings.Contains(a, "/tmp/"):
			return true
		case c == '+' && len(a) > 1 && isAlnum(a[1]) && len(args) > 1:
			return true
		case strings.HasSuffix(a, ".sh") || strings.HasSuffix(a, ".ps1") || strings.HasSuffix(a, ".php") || strings.HasSuffix(a, ".py") || strings.HasSuffix(a, ".pl"):
			return true
		case isHostArg(a):
			return true
		}
	}
	return false
}

// isHostArg says whether an argument is an IPv4 address or a host:port.
func isHostArg(a string) bool {
	if _, ok := parseHostIP(a); ok && strings.Count(a, ".") == 3 {
		return true
	}
	if h, p, ok := strings.Cut(a, ":"); ok && isDigits(p) && strings.IndexByte(h, '.') > 0 {
		return true
	}
	return false
}

// isProse says whether a value reads as sentences: six or more words of
// letters between blanks (with the punctuation of prose around them).
// Code has identifiers joined by dots, brackets and parentheses, which
// are not words here. Backticks in prose are Markdown code spans.
func isProse(lv string) bool { return proseWords(lv, 6) }

// proseWords says whether lv has at least n words of prose (see isProse).
func proseWords(lv string, n int) bool {
	words := 0
	for rest := lv; rest != ""; {
		i := strings.IndexAny(rest, " \t\n\r+")
		tok := rest
		if i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		tok = strings.TrimLeft(tok, "(\"'¿¡*_")
		tok = strings.TrimRight(tok, ".,!?;:)\"'*_")
		if len(tok) < 2 {
			continue
		}
		word := true
		for j := 0; j < len(tok) && word; j++ {
			c := tok[j]
			word = c >= 'a' && c <= 'z' || c >= 0x80 || (c == '\'' || c == '-') && j > 0
		}
		if word {
			words++
			if words >= n {
				return true
			}
		}
	}
	return false
}

// shellStructures are the patterns no data has.
func shellStructures(lv string) (string, int) {
	if i := strings.Index(lv, "()"); i >= 0 {
		rest := strings.TrimLeft(lv[i+2:], " \t")
		if strings.HasPrefix(rest, "{") {
			body := strings.TrimLeft(rest[1:], " \t")
			if strings.HasPrefix(body, ":;") || strings.HasPrefix(body, ": ;") || strings.HasPrefix(body, "_;") {
				return "shellshock", i
			}
			// a function that pipes into or backgrounds itself: f(){ f|f& };f
			name := strings.TrimSpace(lv[max(0, strings.LastIndexAny(lv[:i], " ;\n(")+1):i])
			if name != "" && strings.HasPrefix(body, name) && strings.ContainsAny(body[len(name):min(len(body), len(name)+6)], "|&") {
				return "fork_bomb", i
			}
			if i == 0 || lv[i-1] == ' ' || lv[i-1] == '=' {
				return "shellshock", i
			}
		}
	}
	for _, p := range [...]struct{ s, rule string }{{"/dev/tcp/", "dev_tcp"}, {"/dev/udp/", "dev_tcp"}, {"<<<", "here_string"}, {"${ifs", "ifs"},
		{"$ifs$", "ifs"}, {"<!--#exec", "ssi_exec"}, {"<!--#include", "ssi_exec"}, {"nc -e", "reverse_shell"}, {"-e /bin/", "reverse_shell"},
		{"bash -i", "reverse_shell"}, {"sh -i", "reverse_shell"}, {"0>&1", "reverse_shell"}, {"2>&1", "redirection"}, {"$((", "arithmetic_expansion"},
		{"cmd /c", "cmd_exe"}, {"cmd.exe /c", "cmd_exe"}, {"cmd.exe /k", "cmd_exe"}, {"cmd /k", "cmd_exe"}, {"%comspec%", "cmd_exe"},
		{"-encodedcommand", "powershell"}, {"downloadstring(", "powershell"}, {"downloadfile(", "powershell"}, {"net.webclient", "powershell"},
		{"frombase64string(", "powershell"}, {"-exec bypass", "powershell"}, {"-executionpolicy", "powershell"}, {"/dev/shm/", "dev_shm"},
		{"wmic process call", "wmic"}, {"certutil -urlcache", "certutil"}, {"bitsadmin /transfer", "bitsadmin"}, {"regsvr32 /s", "regsvr32"},
		{"mshta http", "mshta"}, {"mshta vbscript", "mshta"}, {"rundll32 ", "rundll32"}, {"javascript:\"\\..\\mshtml", "rundll32"}} {
		if i := strings.Index(lv, p.s); i >= 0 {
			if p.rule == "redirection" && !strings.ContainsAny(lv[:i], ";|&`$") {
				continue
			}
			return p.rule, i
		}
	}
	// a pipe into a shell or interpreter: | sh, |bash -c, | base64 -d
	for i := strings.IndexByte(lv, '|'); i >= 0 && i < len(lv); {
		rest := strings.TrimLeft(lv[i+1:], " \t|")
		name := rest
		if k := strings.IndexAny(name, " \t;|&)`\n"); k >= 0 {
			name = name[:k]
		}
		name = name[strings.LastIndexByte(name, '/')+1:]
		switch name {
		case "sh", "bash", "zsh", "ksh", "dash", "python", "python3", "perl", "php", "ruby", "node", "iex", "invoke-expression", "powershell", "pwsh", "cmd":
			if !isProse(lv) || strings.HasPrefix(rest, name+" -") || len(rest) == len(name) {
				return "pipe_to_shell", i
			}
		case "base64":
			if strings.HasPrefix(rest, "base64 -d") || strings.HasPrefix(rest, "base64 --decode") {
				return "pipe_to_shell", i
			}
		}
		j := strings.IndexByte(lv[i+1:], '|')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	// ${x#...}, ${x%...}, ${x/...}, ${x:0:1}: bash parameter expansion
	for i := strings.Index(lv, "${"); i >= 0; {
		j := i + 2
		for j < len(lv) && (isAlnum(lv[j]) || lv[j] == '_') {
			j++
		}
		if j > i+2 && j < len(lv) && strings.IndexByte("#%/^,", lv[j]) >= 0 {
			return "parameter_expansion", i
		}
		if j > i+2 && j+1 < len(lv) && lv[j] == ':' && lv[j+1] >= '0' && lv[j+1] <= '9' {
			return "parameter_expansion", i
		}
		k := strings.Index(lv[i+2:], "${")
		if k < 0 {
			break
		}
		i += 2 + k
	}
	// $[2+2] arithmetic, <(cmd) and >(cmd) process substitution
	for _, p := range [...]string{"$[", "<(", ">("} {
		if i := strings.Index(lv, p); i >= 0 {
			j := strings.IndexAny(lv[i+2:], "])")
			if j >= 0 && j <= 40 && !strings.Contains(lv[i+2:i+2+j], " and ") {
				inner := lv[i+2 : i+2+j]
				if p == "$[" && strings.Trim(inner, "0123456789+-*/%() ") == "" || p != "$[" && inner != "" && isAlnum(inner[0]) && !isProse(lv) {
					return "substitution", i
				}
			}
		}
	}
	// a line break then a mail protocol command: SMTP, IMAP, POP3
	for i := strings.IndexAny(lv, "\r\n"); i >= 0 && i < len(lv); {
		rest := strings.TrimLeft(lv[i:], "\r\n ")
		if mailCommand(rest) {
			return "mail_command", i
		}
		j := strings.IndexAny(lv[i+1:], "\r\n")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	// the shell called from code: system('...'), os.system(, exec(
	for _, f := range [...]string{"system(", "shell_exec(", "passthru(", "popen(", "proc_open(", "pcntl_exec(", "exec(", "spawn(",
		"execsync(", "getruntime().exec", "processbuilder(", "subprocess.", "child_process", "io.popen", "kernel.exec", "runtime.exec"} {
		if i := strings.Index(lv, f); i >= 0 && (i == 0 || !isWordByte(lv[i-1]) || lv[i-1] == '.' || f[0] == 'g' || f[0] == 'p' || f[0] == 's' && f[1] == 'u') {
			rest := strings.TrimLeft(lv[i+len(f):], " ")
			if strings.HasSuffix(f, "(") && (rest == "" || rest[0] != '\'' && rest[0] != '"' && rest[0] != '$' && rest[0] != '`') {
				continue
			}
			return "code_exec", i
		}
	}
	return "", 0
}

// mailCommand says whether a line is an SMTP, IMAP or POP3 command.
func mailCommand(l string) bool {
	for _, p := range [...]string{"mail from:", "rcpt to:", "ehlo ", "helo ", "data\r", "data\n", "auth login", "auth plain", "starttls",
		"retr ", "apop ", "user ", "pass ", "list ", "top ", "dele ", "uidl", "stat\r", "stat\n"} {
		if strings.HasPrefix(l, p) {
			if p == "user " || p == "pass " || p == "list " || p == "top " || p == "dele " {
				// POP3: a number or a single word follows
				rest := strings.TrimSpace(l[len(p):])
				if rest == "" || strings.ContainsAny(rest[:min(len(rest), 12)], " ") && !isDigits(strings.Fields(rest)[0]) {
					return false
				}
			}
			return true
		}
	}
	// IMAP: a tag, then a command
	if sp := strings.IndexByte(l, ' '); sp > 0 && sp <= 8 && isAlnum(l[0]) {
		tag := l[:sp]
		if strings.ContainsAny(tag, "0123456789") {
			rest := l[sp+1:]
			for _, c := range [...]string{"login ", "authenticate ", "select ", "examine ", "append ", "status ", "fetch ", "store ", "uid ", "copy ", "list ", "logout", "capability", "search "} {
				if strings.HasPrefix(rest, c) {
					return true
				}
			}
		}
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// batchOrCmdlet looks at a command whose name is no Unix command:
// Windows batch FOR and IF, and PowerShell cmdlets (Verb-Noun).
func batchOrCmdlet(ws []string, at int) (string, int) {
	name := ws[0]
	switch name {
	case "for":
		// FOR [/D /L /F /R [path]] [options] %%x IN (...) DO command
		for k := 1; k < len(ws) && k < 12; k++ {
			if strings.HasPrefix(ws[k], "%") && len(ws[k]) <= 3 {
				if k+1 < len(ws) && ws[k+1] == "in" {
					return "batch_for", at
				}
			}
		}
	case "if":
		k := 1
		for k < len(ws) && (ws[k] == "/i" || ws[k] == "not") {
			k++
		}
		if k < len(ws) {
			switch ws[k] {
			case "exist", "defined", "errorlevel", "cmdextversion":
				if k+2 < len(ws) || k+1 < len(ws) && ws[k] == "exist" {
					return "batch_if", at
				}
			}
			// IF operand op operand command, with batch operators or %variables%
			for m := k; m < len(ws) && m < k+4; m++ {
				switch ws[m] {
				case "equ", "neq", "lss", "leq", "gtr", "geq":
					return "batch_if", at
				}
				if strings.Contains(ws[m], "==") && m+1 < len(ws) && !strings.HasSuffix(ws[len(ws)-1], ":") && ws[m+1] != "then" && ws[m+1] != "{" &&
					!strings.HasPrefix(ws[m+1], "(") || strings.Count(ws[m], "%") >= 2 && m == k {
					return "batch_if", at
				}
			}
		}
	}
	if i := strings.IndexByte(name, '-'); i > 2 && len(ws) > 1 {
		switch name[:i] {
		case "invoke", "get", "set", "new", "start", "remove", "add", "copy", "out", "import", "convertto", "convertfrom":
			if commands[name] == cmdStrong || strings.HasPrefix(ws[1], "-") || strings.HasPrefix(ws[1], "http") {
				return "powershell_cmdlet", at
			}
		}
	}
	return "", 0
}
