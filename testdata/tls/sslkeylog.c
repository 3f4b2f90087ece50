/* An LD_PRELOAD shim that gives any OpenSSL program (nginx) an NSS key log:
 * every SSL_CTX it creates gets a keylog callback appending to the file
 * named by SSLKEYLOGFILE. For tests only (sensor/cli/tlsrecord_linux_test.go
 * builds it with: cc -shared -fPIC -o sslkeylog.so sslkeylog.c -ldl).
 * No OpenSSL headers are needed: the two functions are found at run time. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef void (*keylog_cb)(const SSL *, const char *);

static void keylog(const SSL *ssl, const char *line) {
	(void)ssl;
	const char *path = getenv("SSLKEYLOGFILE");
	if (!path)
		return;
	FILE *f = fopen(path, "a");
	if (!f)
		return;
	fprintf(f, "%s\n", line);
	fclose(f);
}

SSL_CTX *SSL_CTX_new(const void *method) {
	static SSL_CTX *(*real)(const void *);
	static void (*set_cb)(SSL_CTX *, keylog_cb);
	if (!real) {
		real = (SSL_CTX * (*)(const void *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
		set_cb = (void (*)(SSL_CTX *, keylog_cb))dlsym(RTLD_NEXT, "SSL_CTX_set_keylog_callback");
	}
	SSL_CTX *ctx = real(method);
	if (ctx && set_cb)
		set_cb(ctx, keylog);
	return ctx;
}
