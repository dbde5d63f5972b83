/* roles.c: role names and the rank order that decides what a role may do. */
#include <string.h>

#include "auth.h"

static const char *const role_names[] = {
    [ROLE_NONE] = "none",
    [ROLE_VIEWER] = "viewer",
    [ROLE_AGENT] = "agent",
    [ROLE_DEVELOPER] = "developer",
    [ROLE_ADMIN] = "admin",
    [ROLE_OWNER] = "owner",
    [ROLE_PLATFORM_ADMIN] = "platform_admin",
};

#define ROLE_COUNT (sizeof(role_names) / sizeof(role_names[0]))

const char *role_name(enum role r)
{
	if ((unsigned)r >= ROLE_COUNT)
		return role_names[ROLE_NONE];
	return role_names[r];
}

enum role role_parse(const char *s)
{
	if (!s)
		return ROLE_NONE;
	/* "none" is not a grantable role, so it is never parsed back. */
	for (size_t i = ROLE_VIEWER; i < ROLE_COUNT; i++) {
		if (strcmp(s, role_names[i]) == 0)
			return (enum role)i;
	}
	return ROLE_NONE;
}

bool role_allows(enum role have, enum role need)
{
	if ((unsigned)have >= ROLE_COUNT || (unsigned)need >= ROLE_COUNT)
		return false;
	/* Having no role never grants anything, even where nothing is needed. */
	if (have == ROLE_NONE)
		return false;
	return have >= need;
}
