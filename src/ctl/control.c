/* SPDX-License-Identifier: MIT */
/* src/ctl/control.c -- gkctl's control-channel commands: one request, print the answer.
 *
 * The socket is --control PATH, else control.socket of the config given with -c. The
 * answer's lines are printed without their "ok " prefix on out, "error" lines on errf; the
 * exit status is GK_CTL_OK when every line was ok, GK_CTL_REJECT when the daemon answered
 * with an error, GK_CTL_USAGE for bad arguments or a config without a control section,
 * GK_CTL_IO when the socket cannot be reached or the answer is cut short.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "control/control.h"
#include "ctl/internal.h"
#include "daemon/config.h"

/* Answers as long as a zone status of every zone may take a while: no deadline on the
 * answer, only on connecting (a daemon that accepts answers). */
static int connect_to(const char *path, FILE *errf)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(errf, "gkctl: control socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(errf, "gkctl: cannot connect to the control socket %s: %s\n", path,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int gk_ctl_control(const gk_ctl_opts_t *o, char **words, int n, FILE *out, FILE *errf)
{
	const char *path = o->control;
	gk_config_t *cfg = NULL;
	char err[1024];
	if (path == NULL) {
		if (o->config == NULL) {
			fprintf(errf,
			        "gkctl %s: give --control PATH or -c gatekeeperd.conf (its "
			        "control.socket)\n",
			        words[0]);
			return GK_CTL_USAGE;
		}
		if (gk_daemon_config_load_flags(o->config,
		                                GK_CONFIG_NO_SECRETS | GK_CONFIG_NO_ZONE_LISTS,
		                                &cfg, err, sizeof(err)) != 0) {
			fprintf(errf, "gkctl: %s\n", err);
			return GK_CTL_USAGE;
		}
		if (!cfg->control.set) {
			fprintf(errf, "gkctl: %s has no control section (control.socket)\n",
			        o->config);
			gk_daemon_config_free(cfg);
			return GK_CTL_USAGE;
		}
		path = cfg->control.socket;
	}
	/* the request: the words, a relative zone file made absolute against our directory */
	char line[GK_CONTROL_LINE_MAX + 1], abs[PATH_MAX + 2];
	size_t len = 0;
	int ret = GK_CTL_OK;
	for (int i = 0; i < n; i++) {
		const char *w = words[i];
		if (i == 3 && !strcmp(words[0], "zone") && !strcmp(words[1], "add") &&
		    w[0] != '/') {
			if (getcwd(abs, sizeof(abs) - 1) == NULL ||
			    strlen(abs) + 1 + strlen(w) >= sizeof(abs)) {
				fprintf(errf, "gkctl: %s: path too long\n", w);
				ret = GK_CTL_USAGE;
				goto out;
			}
			strcat(abs, "/");
			strcat(abs, w);
			w = abs;
		}
		if (strpbrk(w, " \t\r\n") != NULL) {
			fprintf(errf, "gkctl: '%s': blanks are not allowed in a control request\n",
			        w);
			ret = GK_CTL_USAGE;
			goto out;
		}
		size_t wl = strlen(w);
		if (len + wl + 2 > GK_CONTROL_LINE_MAX) {
			fprintf(errf, "gkctl: request longer than %u bytes\n", GK_CONTROL_LINE_MAX);
			ret = GK_CTL_USAGE;
			goto out;
		}
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, w, wl);
		len += wl;
	}
	line[len++] = '\n';
	/* check the request here too: a bad one is a usage error, not the daemon's */
	gk_control_cmd_t *cmd = malloc(sizeof(*cmd));
	if (cmd == NULL || gk_control_parse(line, len - 1, cmd, err, sizeof(err)) != 0) {
		fprintf(errf, "gkctl: %s\n", cmd ? err : "out of memory");
		free(cmd);
		ret = GK_CTL_USAGE;
		goto out;
	}
	free(cmd);
	int fd = connect_to(path, errf);
	if (fd < 0) {
		ret = GK_CTL_IO;
		goto out;
	}
	if (write_all(fd, line, len) != 0) {
		fprintf(errf, "gkctl: control socket %s: write: %s\n", path, strerror(errno));
		close(fd);
		ret = GK_CTL_IO;
		goto out;
	}
	FILE *in = fdopen(fd, "r");
	if (in == NULL) {
		close(fd);
		ret = GK_CTL_IO;
		goto out;
	}
	char *ans = NULL;
	size_t cap = 0;
	bool ended = false;
	ssize_t r;
	while ((r = getline(&ans, &cap, in)) > 0) {
		if (ans[r - 1] == '\n')
			ans[--r] = '\0';
		if (strcmp(ans, ".") == 0) {
			ended = true;
			break;
		}
		if (strncmp(ans, "ok", 2) == 0 && (ans[2] == '\0' || ans[2] == ' ')) {
			fprintf(out, "%s\n", ans[2] ? ans + 3 : "ok");
		} else {
			fprintf(errf, "gkctl: %s\n",
			        strncmp(ans, "error ", 6) == 0 ? ans + 6 : ans);
			ret = GK_CTL_REJECT;
		}
	}
	free(ans);
	fclose(in);
	if (!ended) {
		fprintf(errf, "gkctl: control socket %s: the answer was cut short\n", path);
		ret = GK_CTL_IO;
	}
out:
	gk_daemon_config_free(cfg);
	return ret;
}
