/* ports.c: binds RTP/RTCP socket pairs (even, odd) in the configured range, round robin so a
   port just freed is not reused at once. The cursor is shared by the signalling stacks: each
   attempt takes its own starting slot, and the kernel's bind decides a race for a pair. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int bind_one(const char *addr, uint16_t port, int *ret_fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		len = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		len = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int ports_bind_pair(const char *addr, uint16_t min, uint16_t max, atomic_uint *cursor, int *ret_fd,
		    int *ret_fd_rtcp, uint16_t *ret_port)
{
	unsigned first = (min + 1u) & ~1u, pairs = max > first ? (max - first + 1u) / 2 : 0;
	if (pairs == 0)
		return -EINVAL;
	int last = -EADDRINUSE;
	unsigned start = atomic_fetch_add(cursor, 1);
	for (unsigned i = 0; i < pairs; i++) {
		unsigned slot = (start + i) % pairs;
		uint16_t port = (uint16_t)(first + 2 * slot);
		int fd, fd2;
		int r = bind_one(addr, port, &fd);
		if (r < 0) {
			last = r;
			if (r != -EADDRINUSE)
				return r;
			continue;
		}
		r = bind_one(addr, (uint16_t)(port + 1), &fd2);
		if (r < 0) {
			close(fd);
			last = r;
			continue;
		}
		if (i)
			atomic_fetch_add(cursor, i); /* skip the pairs found busy */
		*ret_fd = fd;
		*ret_fd_rtcp = fd2;
		*ret_port = port;
		return 0;
	}
	return last;
}
