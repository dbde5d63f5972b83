/* password.c: argon2id password hashing, verification with rehash detection, and policy. */
#include <argon2.h>
#include <string.h>

#include "core/core.h"
#include "auth.h"

#define PW_SALT_LEN 16
#define PW_TAG_LEN 32
/* Ceilings on stored parameters so a corrupt row cannot make verify allocate gigabytes. */
#define PW_MAX_M_KIB (4u * 1024 * 1024)
#define PW_MAX_T_COST 1024u
#define PW_MAX_PARALLELISM 255u
#define PW_MAX_PHC_LEN 512 /* ours are ~100 bytes */
#define PW_STR_(x) #x
#define PW_STR(x) PW_STR_(x)

static int argon2_errno(int rc)
{
	switch (rc) {
	case ARGON2_OK:
		return 0;
	case ARGON2_VERIFY_MISMATCH:
		return -EACCES;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

int pw_hash(const char *pw, const struct pw_params *p, char **ret)
{
	unsigned char salt[PW_SALT_LEN];
	size_t pwlen, enclen;
	char *enc;
	int rc;

	if (!pw || !p || !ret)
		return -EINVAL;
	pwlen = strnlen(pw, PW_MAX_LEN + 1);
	if (pwlen > PW_MAX_LEN)
		return -EINVAL;
	enclen = argon2_encodedlen(p->t_cost, p->m_kib, p->parallelism, PW_SALT_LEN, PW_TAG_LEN,
				   Argon2_id);
	rand_bytes(salt, sizeof(salt));
	enc = mem_alloc(enclen);
	rc = argon2id_hash_encoded(p->t_cost, p->m_kib, p->parallelism, pw, pwlen, salt,
				   sizeof(salt), PW_TAG_LEN, enc, enclen);
	if (rc != ARGON2_OK) {
		mem_free(enc);
		return argon2_errno(rc);
	}
	*ret = enc;
	return 0;
}

/* Reads a decimal uint32 at *s (no sign, no leading zeros but "0"), advancing *s. */
static int parse_u32(const char **s, uint32_t *ret)
{
	const char *c = *s;
	uint64_t v = 0;

	if (*c < '0' || *c > '9' || (c[0] == '0' && c[1] >= '0' && c[1] <= '9'))
		return -EINVAL;
	for (; *c >= '0' && *c <= '9'; c++) {
		v = v * 10 + (uint64_t)(*c - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*s = c;
	*ret = (uint32_t)v;
	return 0;
}

/* Matches literal lit at *s, then a number. */
static int parse_field(const char **s, const char *lit, uint32_t *ret)
{
	size_t n = strlen(lit);

	if (strncmp(*s, lit, n) != 0)
		return -EINVAL;
	*s += n;
	return parse_u32(s, ret);
}

/* Parses "$argon2id$v=19$m=..,t=..,p=..$" from a PHC string; the rest is left to libargon2. */
static int phc_params(const char *phc, uint32_t *ret_version, struct pw_params *ret)
{
	const char *s = phc;
	uint32_t v = ARGON2_VERSION_10;
	struct pw_params p;

	if (strncmp(s, "$argon2id$", 10) != 0)
		return -EINVAL;
	s += 10;
	if (strncmp(s, "v=", 2) == 0) {
		if (parse_field(&s, "v=", &v) < 0 || *s++ != '$')
			return -EINVAL;
	}
	if (parse_field(&s, "m=", &p.m_kib) < 0 || parse_field(&s, ",t=", &p.t_cost) < 0 ||
	    parse_field(&s, ",p=", &p.parallelism) < 0 || *s != '$')
		return -EINVAL;
	if (p.m_kib > PW_MAX_M_KIB || p.t_cost > PW_MAX_T_COST ||
	    p.parallelism > PW_MAX_PARALLELISM)
		return -EINVAL;
	*ret_version = v;
	*ret = p;
	return 0;
}

int pw_verify(const char *phc, const char *pw, const struct pw_params *p, bool *ret_rehash)
{
	struct pw_params stored;
	uint32_t version;
	size_t pwlen;
	int r;

	if (!phc || !pw || strnlen(phc, PW_MAX_PHC_LEN + 1) > PW_MAX_PHC_LEN)
		return -EINVAL;
	r = phc_params(phc, &version, &stored);
	if (r < 0)
		return r;
	pwlen = strnlen(pw, PW_MAX_LEN + 1);
	if (pwlen > PW_MAX_LEN)
		return -EACCES; /* no such password can have been set */
	r = argon2_errno(argon2id_verify(phc, pw, pwlen));
	if (r < 0)
		return r;
	if (ret_rehash)
		*ret_rehash = version != ARGON2_VERSION_NUMBER ||
			      (p && (stored.m_kib != p->m_kib || stored.t_cost != p->t_cost ||
				     stored.parallelism != p->parallelism));
	return 0;
}

int pw_policy(const char *pw, const char **ret_reason)
{
	const char *reason = NULL;
	size_t n;

	if (!pw) {
		reason = "password is required";
	} else {
		n = strnlen(pw, PW_MAX_LEN + 1);
		if (n < PW_MIN_LEN)
			reason = "password must be at least " PW_STR(PW_MIN_LEN) " bytes";
		else if (n > PW_MAX_LEN)
			reason = "password must be at most " PW_STR(PW_MAX_LEN) " bytes";
	}
	if (!reason)
		return 0;
	if (ret_reason)
		*ret_reason = reason;
	return -EINVAL;
}
