/* util.c: core's allocation, randomness and clock for the files that include libre's re.h,
   whose mem_alloc, mem_zalloc and rand_bytes names clash with core.h's. */
#include "core/core.h"
#include "internal.h"

void *vx_zalloc(size_t n)
{
	return mem_zalloc(n);
}

void vx_free(void *p)
{
	mem_free(p);
}

void vx_rand(void *p, size_t n)
{
	rand_bytes(p, n);
}

uint64_t vx_mono_us(void)
{
	return time_mono_us();
}
