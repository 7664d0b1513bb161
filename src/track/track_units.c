/*
 * track_units.c - runs a track_unit (see track_units.h) inside the store's
 * writer: resolve the run, then each statement in order.
 */
#include "track_internal.h"
#include "track_units.h"

int cairn_track__unit_run(cairn_store_tx *tx, void *payload)
{
    track_unit *u = payload;
    int rc;
    if (u->run_uuid) {
        if ((rc = cairn_track__run_lookup(tx, u->run_uuid, u->need_active, &u->run_id))) return rc;
    }
    for (int i = 0; i < u->n; i++) {
        track_stmt *s = &u->s[i];
        if (s->run_slot > 0 && s->run_slot <= s->np) s->p[s->run_slot - 1] = CAIRN_VINT(u->run_id);
        rc = cairn_tx_exec(tx, s->sql, s->p, s->np, NULL, NULL);
        if (rc < 0) return rc;
        if (s->must_change && cairn_tx_changes(tx) == 0)
            return cairn_error_set(u->nf_code ? u->nf_code : CAIRN_ENOTFOUND, CAIRN_SUBSYS_TRACK,
                                   "%s", u->nf_msg);
    }
    return 0;
}
