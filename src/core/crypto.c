/* crypto.c: SHA-256, HMAC-SHA256 and constant-time comparison over OpenSSL libcrypto. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pthread.h>

#include "core.h"

/* SHA-256 fetched from the default provider once: EVP_sha256() makes OpenSSL 3 look the
   implementation up again at every digest (a lock and a hash lookup per API request) */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sha256(const void *in, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	pthread_once(&sha256_once, sha256_fetch);
	EVP_Digest(in, n, out, &len, sha256_md ? sha256_md : EVP_sha256(), NULL);
}

void sha256_hex(const void *in, size_t n, char out[65])
{
	unsigned char d[32];
	sha256(in, n, d);
	hex_encode(d, 32, out);
}

void hmac_sha256(const void *key, size_t klen, const void *in, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, in, n, out, &len);
}

bool ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
