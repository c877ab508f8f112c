/* SPDX-License-Identifier: MIT */
/* src/daemon/privs.c -- setgroups, setgid, setuid, the check, and clearing capabilities.
 *
 * The order matters: supplementary groups and the group can only be changed while still
 * root, so they go first; setuid last. The check tries to undo it (setuid(0), setgid(0))
 * and fails the start if either works. Capabilities are cleared with the raw capset call
 * (libcap is not a dependency for three words) and PR_CAP_AMBIENT_CLEAR_ALL.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common/log.h"
#include "daemon/privs.h"

int gk_daemon_privs_resolve(const char *user, const char *group, gk_privs_t *out, char *err,
                            size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (strlen(user) >= sizeof(out->user) || (group && strlen(group) >= sizeof(out->group))) {
		snprintf(err, errlen, "name longer than %zu bytes", sizeof(out->user) - 1);
		return GK_EINVAL;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "no such user '%s'", user);
		return GK_ENOENT;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	if (group && *group) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(err, errlen, "no such group '%s'", group);
			return GK_ENOENT;
		}
		out->gid = gr->gr_gid;
		snprintf(out->group, sizeof(out->group), "%s", group);
	}
	snprintf(out->user, sizeof(out->user), "%s", user);
	out->set = true;
	return 0;
}

/* Clear the permitted, effective, inheritable and ambient capability sets. */
static int clear_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, d) != 0)
		return -errno;
	return 0;
}

int gk_daemon_privs_drop(const gk_privs_t *p, char *err, size_t errlen)
{
	int rc;
	if (!p->set) {
		if (geteuid() == 0)
			gk_log(GK_LOG_WARN, "running as root: set user: (and group:) in the config "
			                    "to drop privileges once the sockets are open");
	} else if (geteuid() != 0) {
		if (getuid() != p->uid || geteuid() != p->uid || getegid() != p->gid) {
			snprintf(err, errlen,
			         "user: %s: cannot become uid %u gid %u when not started as root "
			         "(running as uid %u gid %u)",
			         p->user, (unsigned)p->uid, (unsigned)p->gid, (unsigned)geteuid(),
			         (unsigned)getegid());
			return GK_EINVAL;
		}
	} else {
		if (setgroups(0, NULL) != 0) {
			rc = -errno;
			snprintf(err, errlen, "setgroups: %s", strerror(-rc));
			return rc;
		}
		if (setgid(p->gid) != 0) {
			rc = -errno;
			snprintf(err, errlen, "setgid(%u): %s", (unsigned)p->gid, strerror(-rc));
			return rc;
		}
		if (setuid(p->uid) != 0) {
			rc = -errno;
			snprintf(err, errlen, "setuid(%u): %s", (unsigned)p->uid, strerror(-rc));
			return rc;
		}
		/* the user may be uid 0 under another name: then there is nothing to check */
		if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 ||
		                    (p->gid != 0 && (setgid(0) == 0 || setegid(0) == 0)))) {
			snprintf(err, errlen, "root could be regained after dropping to %s",
			         p->user);
			return GK_EIO;
		}
		gk_log(GK_LOG_INFO, "running as user %s (uid %u), group %s (gid %u)", p->user,
		       (unsigned)p->uid, p->group[0] ? p->group : "(primary)", (unsigned)p->gid);
	}
	if (geteuid() != 0 && (rc = clear_caps()) != 0) {
		snprintf(err, errlen, "clearing capabilities: %s", strerror(-rc));
		return rc;
	}
	return 0;
}
