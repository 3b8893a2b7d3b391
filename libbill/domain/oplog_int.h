/*
 * oplog_int.h — writing the audit trail (operation_logs, migration 002) from
 * inside a domain service's own transaction.
 */
#ifndef BILL_OPLOG_INT_H
#define BILL_OPLOG_INT_H

#include "store/store.h"

/* Append one operation_logs row on `conn` (in the caller's transaction, so
 * the audit row commits or rolls back with the change). Written for SYSTEM,
 * ADMIN, CLI and TUI actors; a no-op (BILL_OK) for CUSTOMER and ANONYMOUS actors.
 * before_json/after_json are JSON texts or NULL (SQL NULL). `action` is
 * "<object>.<verb>", e.g. "customer.update". CLI and TUI actors are
 * recorded as actor_type "cli" with actor_name "cli"/"tui" (or
 * "cli:<username>" / "tui:<username>"). */
int bill__oplog_write(bill_conn *conn, const bill_actor *actor, const char *action,
                      const char *target_type, const char *target_id,
                      const char *before_json, const char *after_json);

/* The same, also for CUSTOMER actors (actor_type "customer", or "api_key"
 * when the customer authenticated with an API key; actor_id = the customer
 * user, actor_name = its username): for the customer actions staff must be
 * able to trace, such as instance start/stop/restart/terminate. Still a
 * no-op for ANONYMOUS. */
int bill__oplog_write_all(bill_conn *conn, const bill_actor *actor, const char *action,
                          const char *target_type, const char *target_id,
                          const char *before_json, const char *after_json);

#endif
