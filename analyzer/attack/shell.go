package attack

import (
	"maps"
	"slices"
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
	cmdLang              // a shell or interpreter, also a language's name: needs shell-like arguments at the start of a value
	cmdTool              // a tool no word or name shares: flagged with any argument
	cmdAlone             // flagged even alone as a whole value (whoami)
	cmdPrefix            // runs the command after it (sudo, nohup, strace)
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
		stat uniq paste split wc tee nl od last finger route arp ss shutdown reboot halt trap call goto del copy move ren start
		net reg sc runas print expand compact format label mode path title ver vol attrib assoc bcdedit query cd chdir cls md rd
		pushd popd exit break rem pause shift setlocal endlocal color prompt tree xcopy robocopy where which whereis locate ll
		open show run exec apt yum dnf gem npm uptime groups hostname rc shell system awk sed dd tar zip mount screen tmux`)
	add(cmdLang, `bash sh zsh ksh csh tcsh dash ash fish python python2 python3 perl php ruby node nodejs lua tclsh powershell pwsh cmd
		jshell irb gdb vim`)
	add(cmdTool, `wget curl nc ncat netcat socat telnet ssh scp sftp rsync tftp busybox cmd.exe powershell.exe gcc c89 c99 strace ltrace
		chmod chown chgrp passwd useradd adduser usermod userdel crontab base64 base32 xxd hexdump openssl gzip gunzip zcat bzip2
		bunzip2 bzcat xz unxz xzcat zstd zstdcat lz4 bsdtar unzip 7z nmap masscan tcpdump iptables systemctl journalctl dmesg lsof
		pkill killall lsmod insmod rmmod modprobe umount gawk nawk egrep fgrep xargs certutil bitsadmin mshta rundll32 regsvr32 wmic
		schtasks taskkill tasklist regedit bcdboot vssadmin wevtutil netsh icacls cacls cscript wscript msiexec ansible ansible-playbook
		ansible-galaxy ansible-vault ansible-doc ansible-inventory ansible-pull ansible-config chef-client chef-vault chef-run cscli
		aa-disable aa-enforce aa-complain apt-get aptitude dpkg rpm rmt rmt-tar rmt-dump uconv flock cpulimit printenv unalias
		lwp-download lwp-request axel aria2c ssh-keygen ssh-copy-id docker kubectl mysql psql sqlite3 redis-cli xterm chattr lsattr
		getent traceroute tracert pathping mktemp mkfifo mknod telnetd nslookup pkexec doas msfconsole msfvenom ngrok php-cgi perl5
		python3.10 python3.11 python3.12 php7 php8 pdftk pip pip3 pipx nltest dsquery csvde ldifde klist qwinsta quser powercat
		invoke-expression iex iwr irm invoke-webrequest invoke-restmethod start-process new-object invoke-wmimethod iwmi
		get-wmiobject gwmi set-mppreference add-mppreference start-bitstransfer invoke-command icm invoke-item tac sudoedit`)
	add(cmdAlone, `whoami ifconfig ipconfig visudo netstat uname hostnamectl ansible-console chef-shell`)
	add(cmdPrefix, `sudo nohup nice ionice timeout strace ltrace stdbuf unbuffer setsid chroot builtin command exec xargs watch doas time env
		. source`)
	return m
}()

// commandLens has, by first byte, a bit for each length of a command
// name (and "for", "if") that starts with it: most first words are
// passed over without a map lookup.
var commandLens = func() (t [256]uint32) {
	for n := range commands {
		if len(n) < 32 {
			t[n[0]] |= 1 << len(n)
		}
	}
	t['f'] |= 1 << 3
	t['i'] |= 1 << 2
	return
}()

// commandSet is a bitmap of commandHash over the command names (and
// "for", "if"): a word whose bit is clear is none of them, and most words
// are passed over without a map lookup.
var commandSet = func() (t [1 << 12 / 64]uint64) {
	for _, n := range append(slices.Collect(maps.Keys(commands)), "for", "if") {
		h := commandHash([]byte(n))
		t[h>>6] |= 1 << (h & 63)
	}
	return
}()

// commandHash places a lower-case word in commandSet: its length, first,
// middle and last bytes.
func commandHash(w []byte) uint32 {
	if len(w) == 0 {
		return 0
	}
	x := uint32(len(w)) | uint32(w[0])<<8 | uint32(w[len(w)/2])<<16 | uint32(w[len(w)-1])<<24
	x *= 0x9e3779b1
	return x >> (32 - 12)
}

// wordEnd are the bytes that end a command's name.
var wordEnd = func() (t [256]bool) {
	for _, c := range []byte(" \t;|&\n(\"'") {
		t[c] = true
	}
	return
}()

// commandStart says whether a value starts with a command name (or a
// path to one): the prefilter has no keyword for every command, so the
// detector is called for values that start with one.
func commandStart(v string) bool {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '"' || v[i] == '\'' || v[i] == '(' || v[i] == '{') {
		i++
	}
	if i == len(v) || commandLens[lowerTab[v[i]]] == 0 && v[i] != '/' {
		return false // no command starts with this byte
	}
	j := i
	for j < len(v) && j-i < 24 && !wordEnd[v[j]] {
		j++
	}
	if j == i || j-i >= 24 {
		return false
	}
	w := v[i:j]
	if strings.HasPrefix(w, "if/") || strings.HasPrefix(w, "for/") || strings.HasPrefix(w, "IF/") || strings.HasPrefix(w, "FOR/") {
		return true
	}
	if k := strings.LastIndexByte(w, '/'); k >= 0 {
		if w[0] != '/' && !strings.HasPrefix(w, "bin/") {
			return false
		}
		w = w[k+1:]
	}
	if len(w) == 0 || len(w) > 31 || commandLens[lowerTab[w[0]]]&(1<<len(w)) == 0 {
		return false // no command has this first letter and length
	}
	var b [24]byte
	n := copy(b[:], w)
	for k := 0; k < n; k++ {
		b[k] = lowerTab[b[k]]
	}
	if h := commandHash(b[:n]); commandSet[h>>6]&(1<<(h&63)) == 0 {
		return false // not a command name, nor "for" or "if"
	}
	kind := commands[string(b[:n])]
	if kind == 0 && string(b[:n]) != "for" && string(b[:n]) != "if" {
		return false
	}
	// a word alone (a JSON key "id", a value "date") is no command line
	// unless it is a tool
	return j < len(v) || kind == cmdTool || kind == cmdAlone
}

// shellWords is the scratch space of the shell reader.
type shellWords struct {
	words []string
}

// shellSeps are the bytes that end a command.
func shellSep(c byte) bool {
	return c == ';' || c == '|' || c == '&' || c == '\n' || c == '\r' || c == '`' || c == '(' || c == ')' || c == '{' || c == '}'
}

// emptySubst are substitutions that expand to nothing, put inside a
// command's name to hide it (pi“ng, c$()at, pi<()ng).
var emptySubst = strings.NewReplacer("``", "", "$()", "", "<()", "", ">()", "", "\"\"", "", "''", "")

// shellCheck is the command injection detector on lv (lower case).
func (d *detectors) shellCheck(lv string, in input) (bool, string, int) {
	if len(lv) > 4096 {
		lv = lv[:4096]
	}
	prose := d.isProse(lv)
	if rule, at := shellStructures(lv, prose); rule != "" {
		return true, rule, at
	}
	if rule, at := wholeCommand(lv, prose); rule != "" {
		return true, rule, at
	}
	if rule, at := d.commands(lv, prose, in, false); rule != "" {
		return true, rule, at
	}
	if x := braceExpand(lv); x != "" {
		if rule, at := d.commands(x, false, in, strings.Contains(lv, "{,")); rule != "" {
			return true, "brace_" + rule, at
		}
	}
	// again without the empty substitutions and quotes hiding a name
	if hidesName(lv) {
		if c := emptySubst.Replace(lv); c != lv && c != "" {
			if rule, at := d.commands(c, isProse(c), in, true); rule != "" {
				return true, rule, at
			}
		}
	}
	return false, "", 0
}

// hidesName says whether an empty substitution or an empty quote pair
// follows a letter (pi“ng, c$()at, wh”oami), not a code fence or an
// escaped apostrophe's neighbour.
func hidesName(lv string) bool {
	for _, p := range [...]string{"``", "$()", "<()", ">()", "\"\"", "''"} {
		for i := strings.Index(lv, p); i >= 0; {
			if i > 0 && lv[i-1] >= 'a' && lv[i-1] <= 'z' && (i+len(p) >= len(lv) || lv[i+len(p)] != lv[i]) {
				return true
			}
			n := strings.Index(lv[i+1:], p)
			if n < 0 {
				break
			}
			i += 1 + n
		}
	}
	return false
}

// commands examines the commands of a value: from its start and after
// each separator.
func (d *detectors) commands(lv string, prose bool, in input, obf bool) (string, int) {
	// variables assigned a command name, for $var used as one (a=nc&&$a)
	vars := ""
	for i := 0; i <= len(lv); {
		sep := byte(0)
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
		subst := sep == '(' && i >= 2 && (lv[i-2] == '$' || lv[i-2] == '<' || lv[i-2] == '>') || sep == '`'
		if !(sep == '`' && prose) && !(sep == '(' && !shellSubst(lv, i-1)) && !(sep == '{' && !(i >= 2 && lv[i-2] == '$')) && !(sep == '}' || sep == ')' && prose) {
			if rule, at := d.command(lv[i:j], i, sep, subst, prose, obf, in, &vars); rule != "" {
				return rule, at
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
	return "", 0
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
// follows the separator sep (0 at the start of the value); subst: it is
// inside $( ), <( ), >( ) or backticks. vars collects the variables
// assigned a command name.
func (d *detectors) command(s string, at int, sep byte, subst, prose, obf bool, in input, vars *string) (string, int) {
	ws := d.sh.split(s)
	if len(ws) == 0 {
		return "", 0
	}
	if sep != 0 {
		at--
	}
	// brace expansion: {,ifconfig}, {cat,/etc/passwd}
	if len(ws) == 1 && strings.HasPrefix(ws[0], "{") && strings.HasSuffix(ws[0], "}") && strings.IndexByte(ws[0], ',') > 0 {
		inner := ws[0][1 : len(ws[0])-1]
		ws = append(ws[:0], strings.Split(inner, ",")...)
		for len(ws) > 0 && ws[0] == "" {
			ws = ws[1:]
		}
		obf = obf || strings.HasPrefix(inner, ",")
		if len(ws) == 0 {
			return "", 0
		}
	}
	// cleaned words: quotes, backslashes and empty variables removed
	k := 0
	name, wobf := cleanWord(ws[0])
	for {
		// variable assignments (a=b cmd) and prefix commands (sudo, nohup)
		if eq := strings.IndexByte(name, '='); eq > 0 && !strings.HasPrefix(name, "-") {
			if c := strings.Trim(name[eq+1:], "'\""); commands[c] != 0 {
				*vars += " " + name[:eq]
			}
		} else if !(commands[name] == cmdPrefix && k+1 < len(ws) && !strings.HasPrefix(ws[k+1], "-")) {
			break
		}
		if name == "timeout" && k+2 < len(ws) {
			k++ // its duration
		}
		k++
		if k >= len(ws) {
			return "", 0
		}
		name, wobf = cleanWord(ws[k])
	}
	prefixed := k > 0
	obf = obf || wobf
	// $var as the command: a variable assigned a command name, or $SHELL
	if strings.HasPrefix(name, "$") {
		v := strings.Trim(name[1:], "{}")
		if v == "shell" || v == "0" || v != "" && strings.Contains(*vars+" ", " "+v+" ") {
			return "variable_command", at
		}
		return "", 0
	}
	name = strings.TrimPrefix(name, ".") // . and the source builtin
	if strings.IndexByte(name, '/') >= 0 {
		if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "bin/") && !strings.HasPrefix(name, "./") {
			return "", 0
		}
		name = name[strings.LastIndexByte(name, '/')+1:]
	}
	kind := commands[name]
	if kind == cmdPrefix {
		kind = cmdWeak // env, time alone
	}
	if kind == 0 && strings.ContainsAny(name, "?*[") && len(name) >= 2 {
		if g := globCommand(name); g != "" {
			kind, name, obf = commands[g], g, true
		}
	}
	if kind == 0 {
		if name == "shell" || name == "system" {
			if strings.HasPrefix(strings.TrimLeft(s, " \t\\n"), ".") {
				return "sqlite_shell", at // the sqlite3 shell's .shell and .system
			}
		}
		return "", 0
	}
	args := ws[k+1:]
	shellArgs := shellLikeArgs(args, sep != 0) // as sent: c:\windows
	for i, a := range args {
		args[i], _ = cleanWord(a)
	}
	shellArgs = shellArgs || shellLikeArgs(args, sep != 0) // and cleaned: '-'9
	lineBreak := sep == '\n' || sep == '\r'
	if sep == 0 && prose {
		return "", 0 // a sentence that starts with a command's name
	}
	switch {
	case obf && (kind != cmdWeak || len(name) >= 3):
		return "obfuscated_" + name, at
	case subst:
		return "substitution_" + name, at
	case kind == cmdWeak:
		if shellArgs || sep != 0 && len(args) == 0 && !prose && weakAlone[name] ||
			sep != 0 && len(args) >= 1 && timeArg(name, args[0]) {
			return "command_" + name, at
		}
	case kind == cmdLang:
		if sep != 0 && !lineBreak && !(prose && sep != ';' && sep != '|' && len(args) == 0) || shellArgs || prefixed && len(args) > 0 && !prose {
			return "command_" + name, at
		}
	default: // tools
		if sep != 0 && !(lineBreak && len(args) == 0) || len(args) > 0 && (!prose || shellArgs) || prefixed ||
			kind == cmdAlone && !in.key && !lineBreak {
			return "command_" + name, at
		}
	}
	return "", 0
}

// timeArg says whether arg is what a delay or scheduling command takes
// (sleep 10, ping 127.0.0.1 is a host, at 2:00).
func timeArg(name, arg string) bool {
	switch name {
	case "sleep", "ping", "kill":
		return isDigits(strings.TrimSuffix(arg, "s"))
	case "at":
		h, m, ok := strings.Cut(arg, ":")
		return ok && isDigits(h) && isDigits(m)
	}
	return false
}

// weakAlone are the English-word commands that are flagged after a
// separator without arguments (;id, |ps, ;env): reconnaissance.
var weakAlone = set("id", "ls", "ps", "env", "set", "pwd", "who", "w", "uptime", "dir", "ll", "hostname", "groups", "printenv", "ver", "tasklist")

// split cuts a command into its words, lower case, with quotes,
// backslashes and the empty variables attackers use to hide names kept
// in the words (cleanWord strips them). A quote without its closing one
// does not group.
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
			if (c == '\'' || c == '"') && strings.IndexByte(s[j+1:], c) >= 0 {
				q = c
				j++
				continue
			}
			if c == '\\' && j+1 < len(s) && s[j+1] != ' ' {
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
// $'..' and $".." quoting, one-character classes [s]. obf says
// something was stripped.
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
		case c == '$' && i+1 < len(w) && (w[i+1] == '\'' || w[i+1] == '"'):
			obf = true
		case c == '$' && i+1 < len(w) && strings.IndexByte("@*!?-_$#0123456789", w[i+1]) >= 0 && i > 0:
			obf = true
			i++
		case c == '$' && i+1 < len(w) && w[i+1] == '{' && i > 0:
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
		case c == '/' && (len(a) == 1 || isAlnum(a[1]) || a[1] == '.' || a[1] == '?' || a[1] == '*' || a[1] == '['):
			return true
		case len(a) > 2 && a[1] == ':' && (a[2] == '\\' || a[2] == '/') && c >= 'a' && c <= 'z':
			return true // c:\windows
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
	if len(a) < 3 || strings.IndexByte(a, '.') < 0 {
		return false
	}
	if a[0] >= '0' && a[0] <= '9' && strings.Count(a, ".") == 3 {
		if _, ok := parseHostIP(a); ok {
			return true
		}
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
func isProse(lv string) bool { return countProse(lv, 6) >= 6 }

// countProse counts the prose words of lv (see isProse), up to n.
func countProse(lv string, n int) int {
	words := 0
	for i := 0; i < len(lv); {
		// a token runs to a blank (or a '+', a space in a query)
		j := i
		for j < len(lv) && lv[j] != ' ' && lv[j] != '\t' && lv[j] != '\n' && lv[j] != '\r' && lv[j] != '+' {
			j++
		}
		// without the punctuation of prose around it
		s, e := i, j
		for s < e && (lv[s] == '(' || lv[s] == '"' || lv[s] == '\'' || lv[s] == '*' || lv[s] == '_') {
			s++
		}
		for e > s && strings.IndexByte(".,!?;:)\"'*_", lv[e-1]) >= 0 {
			e--
		}
		if e-s >= 2 {
			word := true
			for k := s; k < e && word; k++ {
				c := lv[k]
				word = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || (c == '\'' || c == '-') && k > s
			}
			if word {
				if words++; words >= n {
					return words
				}
			}
		}
		i = j + 1
	}
	return words
}

// shellStructures are the patterns no data has.
func shellStructures(lv string, prose bool) (string, int) {
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
	if structureNeedles.any(lv) {
		for _, p := range shellPatterns {
			if i := strings.Index(lv, p.s); i >= 0 {
				if p.rule == "redirection" && !strings.ContainsAny(lv[:i], ";|&`$") {
					continue
				}
				return p.rule, i
			}
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
			if !prose || strings.HasPrefix(rest, name+" -") || len(rest) == len(name) {
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
				if p == "$[" && strings.Trim(inner, "0123456789+-*/%() ") == "" || p != "$[" && inner != "" && isAlnum(inner[0]) && !prose {
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
	if i, _ := codeExecNeedles.first(lv); i >= 0 {
		for _, f := range codeExecNeedles.list[i:] {
			if i := strings.Index(lv, f); i >= 0 && (i == 0 || !isWordByte(lv[i-1]) || lv[i-1] == '.' || f[0] == 'g' || f[0] == 'p' || f[0] == 's' && f[1] == 'u') {
				rest := strings.TrimLeft(lv[i+len(f):], " ")
				if strings.HasSuffix(f, "(") && (rest == "" || rest[0] != '\'' && rest[0] != '"' && rest[0] != '$' && rest[0] != '`') {
					continue
				}
				return "code_exec", i
			}
		}
	}
	return "", 0
}

// shellPatterns are the fixed strings of shell structures, with their
// rules.
var shellPatterns = []struct{ s, rule string }{{"/dev/tcp/", "dev_tcp"}, {"/dev/udp/", "dev_tcp"}, {"<<<", "here_string"}, {"${ifs", "ifs"},
	{"$ifs$", "ifs"}, {"<!--#exec", "ssi_exec"}, {"<!--#include", "ssi_exec"}, {"nc -e", "reverse_shell"}, {"-e /bin/", "reverse_shell"},
	{"bash -i", "reverse_shell"}, {" -e sh", "reverse_shell"}, {" -e /bin", "reverse_shell"}, {" -e cmd", "reverse_shell"}, {"sh -i", "reverse_shell"},
	{"0>&1", "reverse_shell"}, {"2>&1", "redirection"}, {"$((", "arithmetic_expansion"},
	{"cmd /c", "cmd_exe"}, {"cmd.exe /c", "cmd_exe"}, {"cmd.exe /k", "cmd_exe"}, {"cmd /k", "cmd_exe"}, {"%comspec%", "cmd_exe"},
	{"-encodedcommand", "powershell"}, {"downloadstring(", "powershell"}, {"downloadfile(", "powershell"}, {"net.webclient", "powershell"},
	{"frombase64string(", "powershell"}, {"-exec bypass", "powershell"}, {"-executionpolicy", "powershell"}, {"/dev/shm/", "dev_shm"},
	{"wmic process call", "wmic"}, {"certutil -urlcache", "certutil"}, {"bitsadmin /transfer", "bitsadmin"}, {"regsvr32 /s", "regsvr32"},
	{"mshta http", "mshta"}, {"mshta vbscript", "mshta"}, {"rundll32 ", "rundll32"}, {"javascript:\"\\..\\mshtml", "rundll32"}}

// structureNeedles finds whether any of shellPatterns occurs, in one pass.
var structureNeedles = func() *needles {
	var l []string
	for _, p := range shellPatterns {
		l = append(l, p.s)
	}
	return newNeedles(l...)
}()

// codeExecNeedles are the calls of the shell from code.
var codeExecNeedles = newNeedles("system(", "shell_exec(", "passthru(", "popen(", "proc_open(", "pcntl_exec(", "exec(", "spawn(",
	"execsync(", "getruntime().exec", "processbuilder(", "subprocess.", "child_process", "io.popen", "kernel.exec", "runtime.exec")

// mailCommand says whether a line is an SMTP, IMAP or POP3 command.
func mailCommand(l string) bool {
	for _, p := range [...]string{"mail from:", "rcpt to:", "ehlo ", "helo ", "data\r", "data\n", "auth login", "auth plain", "starttls",
		"retr ", "apop ", "user ", "pass ", "list ", "top ", "dele ", "uidl", "stat\r", "stat\n", "auth "} {
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

// wholeCommand looks at the value as one command line of the kinds
// whose syntax separators would cut: Windows batch FOR and IF (with
// their parentheses), alias definitions, tilde and history expansions,
// and paths whose glob patterns stand for a binary or a sensitive file.
func wholeCommand(lv string, prose bool) (string, int) {
	t := strings.TrimLeft(lv, " \t;|&")
	at := len(lv) - len(t)
	if !(strings.HasPrefix(t, "for") || strings.HasPrefix(t, "if") || strings.HasPrefix(t, "alias") || strings.HasPrefix(t, "~") ||
		strings.HasPrefix(t, "!") || strings.ContainsAny(t, "[?*") || strings.HasPrefix(t, "/") || strings.HasPrefix(t, "bin/") || strings.IndexByte(t, '-') > 2) {
		return "", 0
	}
	fs := strings.Fields(parenSpaces.Replace(t))
	if len(fs) == 0 {
		return "", 0
	}
	switch {
	case fs[0] == "for" || strings.HasPrefix(fs[0], "for/"):
		// FOR [/D /L /F /R [path]] [options] %x IN (...) DO command
		for k := 1; k+1 < len(fs) && k < 16; k++ {
			if strings.HasPrefix(fs[k], "%") && len(fs[k]) >= 2 && fs[k+1] == "in" && slices.Contains(fs[k+2:], "do") {
				return "batch_for", at
			}
		}
	case fs[0] == "if" || strings.HasPrefix(fs[0], "if/"):
		if rule := batchIf(fs); rule != "" {
			return rule, at
		}
	case fs[0] == "alias" && len(fs) > 1:
		// alias [-p] [+g] name=value
		for k := 1; k < len(fs) && k < 4; k++ {
			if eq := strings.IndexByte(fs[k], '='); eq > 0 {
				return "alias", at
			}
			if !strings.HasPrefix(fs[k], "-") && !strings.HasPrefix(fs[k], "+") && len(fs[k]) > 1 {
				break
			}
		}
	}
	// ~+ ~- ~+2 (the directory stack) and !-1 (history) as the value
	if len(t) >= 2 && t[0] == '~' && (t[1] == '+' || t[1] == '-') && isDigits(t[2:]+"0") {
		return "tilde_expansion", at
	}
	if strings.HasPrefix(t, "!-") && strings.Trim(t, "!-0123456789") == "" {
		return "history_expansion", at
	}
	// /etc/pas[s]wd, /usr/[a-z]in/bash, /bi?/c?t: globs that name a
	// binary or a sensitive file
	for _, f := range fs {
		if strings.HasPrefix(f, "/") && strings.ContainsAny(f, "[?*") && globPath(f) {
			return "glob_path", at + strings.Index(t, f)
		}
	}
	// a path to a binary as the whole value: /bin/ab, /usr/sbin/x
	if len(fs) == 1 {
		for _, d := range [...]string{"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "bin/"} {
			if strings.HasPrefix(t, d) && len(t) > len(d) && strings.IndexByte(t[len(d):], '/') < 0 && !strings.Contains(t[len(d):], ".") {
				return "binary_path", at
			}
		}
	}
	// Verb-Noun PowerShell cmdlets
	if r := cmdlet(fs); r != "" {
		return r, at
	}
	return "", 0
}

// braceExpand expands the first brace group with a comma of a value
// without blanks ({,ifconfig}, c{a,oun}t, {l,-lh}s) into its words, as
// bash does; "" when there is none.
func braceExpand(lv string) string {
	o := strings.IndexByte(lv, '{')
	if o < 0 || strings.ContainsAny(lv, " \t") {
		return ""
	}
	c := strings.IndexByte(lv[o:], '}')
	if c < 0 || !strings.Contains(lv[o:o+c], ",") || o > 0 && lv[o-1] == '$' {
		return ""
	}
	pre, body, post := lv[:o], lv[o+1:o+c], lv[o+c+1:]
	var b strings.Builder
	for i, alt := range strings.Split(body, ",") {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pre + alt + post)
	}
	return strings.TrimSpace(b.String())
}

// parenSpaces puts blanks around parentheses, to cut at them.
var parenSpaces = strings.NewReplacer("(", " ( ", ")", " ) ")

// globPaths are what glob patterns in an injected path stand for.
var globPaths = []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hosts", "/etc", "/bin/bash", "/bin/sh", "/bin/cat", "/bin/nc",
	"/usr/bin/bash", "/usr/bin/id", "/usr/bin/whoami", "/usr/bin/uname", "/usr/bin/nc", "/usr/bin/curl", "/usr/bin/wget", "/usr/bin/python",
	"/usr/bin/python3", "/usr/bin/perl", "/usr/bin/cat", "/bin/ls", "/usr/bin/ls", "/proc/self/environ", "/usr/bin"}

// globPath says whether a path glob matches a binary or sensitive file
// (character classes [x], [!x], [a-z] and [x//] stand for one byte).
func globPath(f string) bool {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] == '[' {
			if j := strings.IndexByte(f[i:], ']'); j > 0 {
				b.WriteByte('?')
				i += j
				continue
			}
		}
		b.WriteByte(f[i])
	}
	g := strings.TrimRight(b.String(), "/")
	for _, p := range globPaths {
		if globMatch(g, p) {
			return true
		}
	}
	return false
}

// batchIf reads a Windows batch IF: IF [/I] [NOT] EXIST|DEFINED|
// ERRORLEVEL ..., or IF [/I] [NOT] a==b / a EQU b, and a command.
func batchIf(fs []string) string {
	k := 1
	if strings.HasPrefix(fs[0], "if/") {
		k = 1
	}
	for k < len(fs) && (fs[k] == "/i" || fs[k] == "not") {
		k++
	}
	if k >= len(fs) {
		return ""
	}
	switch fs[k] {
	case "exist", "defined", "errorlevel", "cmdextversion":
		if k+1 < len(fs) {
			return "batch_if"
		}
		return ""
	}
	// operands and a batch comparison, then a command (not code: no
	// colon, brace or then after it)
	for m := k; m < len(fs) && m < k+8; m++ {
		op := fs[m]
		switch op {
		case "equ", "neq", "lss", "leq", "gtr", "geq", "==":
			if m > k && (m+2 < len(fs) || m+1 < len(fs) && strings.Contains(fs[m-1], "%")) {
				return "batch_if"
			}
			continue
		}
		if i := strings.Index(op, "=="); i > 0 && i+2 < len(op) && m+1 < len(fs) {
			n := fs[m+1]
			if n != "then" && n != "{" && n != "(" && !strings.HasSuffix(op, ":") {
				return "batch_if"
			}
		}
		if strings.Count(op, "%") >= 2 && m == k && m+2 < len(fs) {
			return "batch_if"
		}
	}
	return ""
}

// cmdlet finds a PowerShell cmdlet (Verb-Noun) with arguments.
func cmdlet(ws []string) string {
	name := ws[0]
	if i := strings.IndexByte(name, '-'); i > 2 && len(ws) > 1 {
		switch name[:i] {
		case "invoke", "get", "set", "new", "start", "remove", "add", "copy", "out", "import", "convertto", "convertfrom", "stop":
			if commands[name] == cmdTool || strings.HasPrefix(ws[1], "-") || strings.HasPrefix(ws[1], "http") {
				return "powershell_cmdlet"
			}
		}
	}
	return ""
}
