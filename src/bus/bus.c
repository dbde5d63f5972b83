/* bus.c: placeholder. */
