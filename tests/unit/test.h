/* test.h: minimal unit-test harness; every check counts, the binary fails on any failure. */
#ifndef IRISX_TEST_H
#define IRISX_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failures, test_checks;
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		test_checks++;                                                                     \
		if (!(cond)) {                                                                     \
			test_failures++;                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)
#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		test_checks++;                                                                     \
		if (a_ != b_) {                                                                    \
			test_failures++;                                                           \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__,  \
				#a, a_, b_);                                                       \
		}                                                                                  \
	} while (0)
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		test_checks++;                                                                     \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                           \
			test_failures++;                                                           \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
		}                                                                                  \
	} while (0)
static inline int test_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
	if (test_checks == 0)
		return 1;
	return test_failures ? 1 : 0;
}

/* ---- shared fixtures ---- */

/* Unsets every IRISX_* variable, so a setting in the caller's environment can't leak into a
   test's configuration. */
static inline void test_clear_irisx_env(void)
{
	extern char **environ;
	char *names[256];
	size_t n = 0;
	for (char **e = environ; *e && n < sizeof(names) / sizeof(names[0]); e++) {
		if (strncmp(*e, "IRISX_", 6) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		names[n++] = strndup(*e, eq ? (size_t)(eq - *e) : strlen(*e));
	}
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
}

#ifdef IRISX_CORE_H
/* The defaults, with a fresh SQLite data directory made from the mkdtemp template dir
   (kept in place: test_remove_db_dir removes it) and no database URL. */
static inline void test_sqlite_config(struct config *cfg, char *dir)
{
	char *err = NULL;
	CHECK_EQ_INT(config_load(cfg, "/dev/null", &err), 0);
	CHECK(mkdtemp(dir) != NULL);
	mem_free(cfg->data_dir);
	cfg->data_dir = mem_strdup(dir);
	mem_free(cfg->database_url);
	cfg->database_url = mem_strdup("");
}
#endif

/* Removes a SQLite data directory made by the test: the database, its WAL and shm. */
static inline void test_remove_db_dir(const char *dir)
{
	static const char *const files[] = {"irisx.db", "irisx.db-wal", "irisx.db-shm"};
	char path[512];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

#endif
