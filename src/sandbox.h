/* The daemon's seccomp sandbox: once start-up is over (socket, backend,
 * signals), only the system calls that serving a front-end needs remain. */
#ifndef VUV_SANDBOX_H
#define VUV_SANDBOX_H

#include <stdbool.h>

enum sandbox_mode {
	SANDBOX_OFF,
	SANDBOX_ON,  /* a call outside the list kills the process */
	SANDBOX_LOG, /* a call outside the list runs and the kernel logs it */
};

/* Whether this build has seccomp support (libseccomp). */
bool sandbox_available(void);

/* Sets PR_SET_NO_NEW_PRIVS and loads the allow-list for every thread of the
 * process; *nallowed gets the number of system calls on the list. 0, or a
 * negative errno after logging why (-ENOSYS: no seccomp in this build). */
int sandbox_install(enum sandbox_mode mode, unsigned *nallowed);

#endif
