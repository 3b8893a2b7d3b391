/*
 * routes.h — bill-server's plain HTTP routes, for the route table main hands
 * the server (bill_srv_route, transport/server.h). Each is one file here:
 *   probes.c    GET /health (inline, before every layer), GET /ready (a job:
 *               pings the database), GET /metrics (inline: the transport's
 *               counters, the DB pool and the plugins' circuit breakers)
 *   admin_ui.c  GET /admin[/...] (a job: the admin SPA's files from disk)
 *   callback.c  GET|POST /callback/<plugin>/<interface> (a job: payment
 *               gateways' notifications, verified by the plugin's signature)
 * The gRPC route is the transport's own (srv_grpc_route).
 */
#ifndef BILL_SRV_ROUTES_H
#define BILL_SRV_ROUTES_H

#include "../transport/server.h"

void srv_route_health(bill_srv *s, const srv_req *req, srv_resp *resp);
void srv_route_ready_job(srv_job *job);
void srv_route_metrics(bill_srv *s, const srv_req *req, srv_resp *resp);
void srv_route_admin_job(srv_job *job);
void srv_route_callback_job(srv_job *job);

#endif
