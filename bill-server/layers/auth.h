/*
 * auth.h — what the auth layers (layers/auth.c) share with IdentityService
 * (services/identity.c): the failed-login guard and cookie formatting.
 */
#ifndef BILL_SRV_AUTH_H
#define BILL_SRV_AUTH_H

#include "layers.h"

/* Process-wide failed-login lockout (created by bill_srv_auth_init; NULL
 * before, which bill_loginguard_* treat as "never locked"). */
bill_loginguard *bill_srv_auth_loginguard(void);

/* Set-Cookie value for the admin session: "<name>=<token>; Path=/; HttpOnly;
 * SameSite=<cfg>; Max-Age=<secs>[; Secure]". token NULL clears the cookie
 * (empty value, Max-Age=0). Arena-allocated. */
char *bill_srv_auth_session_cookie(bill_srv_call *call, const char *token);

#endif
