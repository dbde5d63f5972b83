/* buf.c: growable byte buffer that refuses to grow past its maximum (curl's dynbuf). */
#include <stdio.h>
#include <string.h>

#include "core.h"

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (b->max && (n > b->max || b->len > b->max - n))
		return -E2BIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = mem_realloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(tmp))
		return buf_append(b, tmp, (size_t)n);
	char *big = mem_alloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int r = buf_append(b, big, (size_t)n);
	mem_free(big);
	return r;
}

char *buf_detach(struct buf *b)
{
	char *p = b->p ? b->p : mem_strdup("");
	size_t max = b->max;
	buf_init(b, max);
	return p;
}

void buf_free(struct buf *b)
{
	mem_free(b->p);
	buf_init(b, b->max);
}
