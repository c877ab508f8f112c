/* SPDX-License-Identifier: MIT */
/* src/common/snapshot.h -- publish/retire of immutable objects (quiescent-state reclamation).
 *
 * One writer thread publishes a new immutable object with one atomic pointer exchange; any
 * number of registered reader threads load the current pointer without locks. The old object
 * is freed only after every reader has passed a quiescent point after the exchange.
 *
 * Reader contract: a reader (index 0..nreaders-1, one thread each) calls gk_snapshot_read()
 * and may use the object until its next call to gk_snapshot_quiescent(). It calls
 * gk_snapshot_quiescent() at a point where it holds no pointer from gk_snapshot_read() (for a
 * libuv worker: once per loop iteration, outside every callback). A reader that never reaches
 * a quiescent point (blocked in poll) delays reclamation; the writer should wake it.
 *
 * Writer contract: gk_snapshot_create, _publish, _retire, _reclaim and _destroy are called
 * by one thread only (the daemon's main loop). The writer never blocks on readers: it polls
 * gk_snapshot_reclaim() (from a timer) until it returns 0.
 */
#pragma once
#include <stddef.h>
#include "gk/errors.h"

typedef struct gk_snapshot gk_snapshot_t;

/* Called to free a retired (or, at destroy, the current) object. Runs on the writer thread. */
typedef void (*gk_snapshot_free_fn)(void *obj);

/* Create a cell for nreaders readers (>= 1), publishing initial (may be NULL). free_fn frees
 * objects once unreachable. Returns 0, GK_EINVAL or GK_ENOMEM. Writer thread. */
GK_MUST_CHECK int gk_snapshot_create(unsigned nreaders, void *initial, gk_snapshot_free_fn free_fn,
                                     gk_snapshot_t **out);

/* Current object (acquire load). Valid until the caller's next gk_snapshot_quiescent().
 * Reader threads and the writer (the writer's pointer stays valid until it publishes). */
void *gk_snapshot_read(const gk_snapshot_t *s);

/* Reader `reader` declares it holds no object from gk_snapshot_read(). Wait-free. */
void gk_snapshot_quiescent(gk_snapshot_t *s, unsigned reader);

/* Exchange the current object for next and retire the old one; it is freed by a later
 * gk_snapshot_reclaim() once every reader has been quiescent since. Returns 0 or GK_ENOMEM
 * (nothing published; next still belongs to the caller). Writer thread. */
GK_MUST_CHECK int gk_snapshot_publish(gk_snapshot_t *s, void *next);

/* Retire obj, which the caller has already made unreachable for readers that start after
 * this call (an atomic store elsewhere: a replaced entry of a lock-free index): free_fn(obj)
 * runs in a later gk_snapshot_reclaim() once every reader has been quiescent since, or at
 * gk_snapshot_destroy. Lets a structure published inside the current object retire its
 * parts one by one. Returns 0 or GK_ENOMEM (nothing retired; obj still the caller's).
 * Writer thread. */
GK_MUST_CHECK int gk_snapshot_retire(gk_snapshot_t *s, void *obj, gk_snapshot_free_fn free_fn);

/* Free every retired object whose grace period is over. Returns how many stay retired
 * (0: nothing pending). Writer thread; never blocks. */
size_t gk_snapshot_reclaim(gk_snapshot_t *s);

/* Free the current and all retired objects and the cell itself. Only once no reader runs
 * (threads joined). NULL is ignored. Writer thread. */
void gk_snapshot_destroy(gk_snapshot_t *s);
