/* nats.c: NATS JetStream backend (placeholder until its own commit: opening fails). */
#include "internal.h"

static int na_open(struct bus *b)
{
	(void)b;
	return -ENOTSUP;
}

const struct bus_backend bus_nats_backend = {.name = "nats", .open = na_open};
