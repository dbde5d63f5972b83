/* fuzz_config: config_load on arbitrary file contents (the IRISX_* environment is read too);
   every outcome frees cleanly and a successful load has every string set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	if (fd < 0) { /* an in-memory file: no disk traffic per input */
		fd = memfd_create("irisx-fuzz-config", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct config cfg;
	char *err = NULL;
	int r = config_load(&cfg, path, &err);
	if (r == 0) {
		if (err || !cfg.http_listen || !cfg.data_dir || !cfg.database_url ||
		    !cfg.jwt_issuer || !cfg.log_level || cfg.http_timeout_s < 1 ||
		    cfg.database_pool < 1)
			abort();
	} else {
		if (r != -EINVAL || !err)
			abort();
		mem_free(err);
	}
	config_free(&cfg);
	return 0;
}
