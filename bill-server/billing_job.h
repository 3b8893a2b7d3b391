/*
 * billing_job.h — the billing thread of bill-server (billing_job.c).
 */
#ifndef BILL_SERVER_BILLING_JOB_H
#define BILL_SERVER_BILLING_JOB_H

#include "bill/config.h"
#include "bill/db.h"
#include "bill/plugin_host.h"

/* Start the thread when [billing].enabled; 0 on success (or disabled). */
int billing_job_start(const bill_config *cfg, bill_db *db, bill_plugins *plugins);
/* Stop and join it (no-op when not started). */
void billing_job_stop(void);

#endif
