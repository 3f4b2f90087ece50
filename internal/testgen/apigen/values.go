package apigen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Value kinds modelled on the identifiers of well-known public APIs, for
// the x-gen extension of a path or query parameter:
//
//	login          GitHub-style user and organisation logins (a few hundred, some much busier)
//	repo           a repository of the login drawn before it in the same request
//	branch         main, master, develop, release-1.4, feature-... branches
//	tag            release tags such as v2.21.17
//	sha            40-digit commit SHAs
//	ref            a branch, a tag or a SHA
//	file           a file name of a repository (README.md, go.mod, ...)
//	sid:XX         Twilio-style SIDs: XX and 32 hex digits (ACd1c2..., CA7f...)
//	bigint         Box-style 9-12 digit ids
//	domain         domain names (example-shop.com)
//	upperkey       opaque upper-case access keys (DSGFQILMDPCSDYBGVT)
//	shortid        22-character short UUIDs (crAPI post ids)
//	vin            vehicle identification numbers
//	country        ISO 3166 country codes (US, GB, ...)
//	slug:N         a pool of N slugs (eco-iron, terra-nova, ...)
//	pick:a|b|c     one of the listed words
//	fingerprint    SSH key fingerprints (3b:16:bf:...)
//	orderno        order numbers such as ORD-2026-004211
//	semver         versions such as 1.4.2
//
// Pools are drawn with a Zipf popularity, as real traffic is: a few values
// take most calls.

// zipf draws an index in [0, n) with a Zipf popularity.
func (g *Generator) zipf(n int) int {
	if n <= 1 {
		return 0
	}
	z := g.zipfs[n]
	if z == nil {
		if g.zipfs == nil {
			g.zipfs = map[int]*rand.Zipf{}
		}
		z = rand.NewZipf(g.rng, 1.15, 2, uint64(n-1))
		g.zipfs[n] = z
	}
	return int(z.Uint64())
}

var syllables = strings.Fields(`ka ri to mo na su ve lo de an el or is um ar en ta qu ex zo ly fi ga ho ji`)

// loginName is the i-th login of the pool: logins look like real ones
// (octo-labs, maplecedar, j-summit42).
func loginName(i int) string {
	a, b := words[i%len(words)], words[(i*7+3)%len(words)]
	switch i % 6 {
	case 0:
		return a + b
	case 1:
		return a + "-" + b
	case 2:
		return string(a[0]) + "-" + b + strconv.Itoa(i%97)
	case 3:
		return a + strconv.Itoa(10+i%89)
	case 4:
		return a + "-labs"
	}
	return syllables[i%len(syllables)] + syllables[(i/3)%len(syllables)] + b
}

var repoWords = strings.Fields(`api server client sdk go rs js py cli docs site web app core kit lib
tools infra deploy config dotfiles awesome plugin engine proxy gateway desk chart operator worker`)

// repoName is the i-th repository name of the pool (desk-go, api-server,
// maple, dotfiles, ...).
func repoName(i int) string {
	a, b := words[i%len(words)], repoWords[(i/len(words)+i)%len(repoWords)]
	switch i % 5 {
	case 0:
		return a
	case 1:
		return b + "-" + repoWords[(i*3)%len(repoWords)]
	case 2:
		return a + "." + b
	}
	return a + "-" + b
}

var countries = strings.Fields(`US GB CA DE FR AU NL SE ES IT IE BE CH AT DK NO FI PL PT BR MX JP SG NZ IN`)

var files = strings.Fields(`README.md go.mod go.sum Makefile LICENSE Dockerfile main.go package.json setup.py Procfile
CHANGELOG.md .gitignore CONTRIBUTING.md requirements.txt Cargo.toml tsconfig.json`)

const hexDigits = "0123456789abcdef"

func (g *Generator) hexString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *Generator) fromAlphabet(alpha string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[g.rng.IntN(len(alpha))]
	}
	return string(b)
}

func (g *Generator) branch() string {
	switch r := g.rng.IntN(100); {
	case r < 45:
		return "main"
	case r < 55:
		return "master"
	case r < 65:
		return "develop"
	case r < 68:
		return "gh-pages"
	case r < 80:
		return fmt.Sprintf("release-%d.%d", 1+g.rng.IntN(4), g.rng.IntN(20))
	}
	i := g.zipf(300)
	return "feature-" + words[i%len(words)] + "-" + words[(i*5+1)%len(words)]
}

func (g *Generator) tag() string {
	i := g.zipf(400)
	return fmt.Sprintf("v%d.%d.%d", i%4, (i/4)%26, (i*7)%31)
}

// realistic makes a value of one of the kinds above; ok is false for a
// kind it does not know.
func (g *Generator) realistic(kind string) (string, bool) {
	r := g.rng
	name, arg, _ := strings.Cut(kind, ":")
	switch name {
	case "login":
		g.ctx.login = g.zipf(400)
		return loginName(g.ctx.login), true
	case "repo":
		o := g.ctx.login
		n := 1 + (o*7)%12
		return repoName((o*31 + g.zipf(n)*17) % 600), true
	case "branch":
		return g.branch(), true
	case "tag":
		return g.tag(), true
	case "sha":
		return g.hexString(40), true
	case "ref":
		if r.IntN(100) < 40 {
			return g.hexString(40), true
		}
		if r.IntN(2) == 0 {
			return g.branch(), true
		}
		return g.tag(), true
	case "file":
		return files[g.zipf(len(files))], true
	case "sid":
		return arg + g.hexString(32), true
	case "bigint":
		return strconv.FormatInt(100000000+r.Int64N(899999999999), 10), true
	case "domain":
		i := g.zipf(80)
		return words[i%len(words)] + []string{"-shop", "", "-labs", "-app"}[i%4] + []string{".com", ".io", ".net", ".dev"}[(i/4)%4], true
	case "upperkey":
		return g.fromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 18+r.IntN(3)), true
	case "shortid":
		return g.fromAlphabet("23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", 22), true
	case "vin":
		return g.fromAlphabet("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", 17), true
	case "country":
		return countries[g.zipf(len(countries))], true
	case "slug":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 {
			return "", false // the plain slug kind of apigen.go
		}
		i := g.zipf(n)
		return words[(i*11+5)%len(words)] + "-" + words[(i*3+i/len(words))%len(words)], true
	case "pick":
		opts := strings.Split(arg, "|")
		return opts[g.zipf(len(opts))], true
	case "fingerprint":
		parts := make([]string, 16)
		for i := range parts {
			parts[i] = g.hexString(2)
		}
		return strings.Join(parts, ":"), true
	case "orderno":
		return fmt.Sprintf("ORD-%d-%06d", 2024+r.IntN(3), r.IntN(999999)), true
	case "semver":
		i := g.zipf(60)
		return fmt.Sprintf("%d.%d.%d", i%3, (i/3)%10, i%7), true
	}
	return "", false
}
