/* mem.c: allocation wrappers that abort on out-of-memory (callers cap outside sizes first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void *oom(size_t n)
{
	fprintf(stderr, "{\"level\":\"error\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
	abort();
}

void *mem_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : oom(n);
}

void *mem_zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	return p ? p : oom(n);
}

void *mem_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	return q ? q : oom(n);
}

char *mem_strndup(const char *s, size_t n)
{
	char *p = mem_alloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mem_strdup(const char *s)
{
	return s ? mem_strndup(s, strlen(s)) : NULL;
}

void mem_free(void *p)
{
	free(p);
}
