/* crypto.c: SHA-256, HMAC-SHA256 and constant-time comparison over OpenSSL libcrypto. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core.h"

void sha256(const void *in, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	EVP_Digest(in, n, out, &len, EVP_sha256(), NULL);
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
