/* store_backend.c: placeholder. */
