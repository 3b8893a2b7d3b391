/*
 * cluster_job.h — bill-server as a member of the cluster (cluster_job.c):
 * registered in the instance registry, heartbeating on its own thread, and
 * wanting the leader roles `billing` (the billing pass) and `events` (the
 * periodic jobs: unpaid-order cancel, auth purges). Event consumption needs
 * no role: every instance claims events with SKIP LOCKED.
 */
#ifndef BILL_SERVER_CLUSTER_JOB_H
#define BILL_SERVER_CLUSTER_JOB_H

#include "bill/cluster.h"
#include "bill/config.h"
#include "bill/db.h"

/* Join (state "starting"), want the roles, beat once (so the roles are
 * settled before the jobs first run) and start the heartbeat thread every
 * [cluster].heartbeat_secs. 0, or -1 with a message on stderr. */
int cluster_job_start(const bill_config *cfg, bill_db *db, const char *host, int port);
/* The member (NULL before start / after stop): for role checks and /metrics. */
bill_cluster *cluster_job_member(void);
/* True while this instance holds `role` (false when not started). */
bool cluster_job_role_held(const char *role);
/* Record starting / serving / draining in the registry (best effort). */
void cluster_job_set_state(bill_cluster_state st);
/* Stop the heartbeat thread and leave: the roles are released at once and
 * the registry row deleted. Call after the jobs that need roles stopped. */
void cluster_job_stop(void);

#endif
