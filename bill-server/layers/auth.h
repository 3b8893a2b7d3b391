/*
 * auth.h — what the auth layers (layers/auth.c) share with IdentityService
 * (services/identity.c): session cookie formatting. (The failed-login guard
 * is the server's: bill_srv_call_loginguard.)
 */
#ifndef BILL_SRV_AUTH_H
#define BILL_SRV_AUTH_H

#include "layers.h"

/* Set-Cookie value for the admin session: "<name>=<token>; Path=/; HttpOnly;
 * SameSite=<cfg>; Max-Age=<secs>[; Secure]". token NULL clears the cookie
 * (empty value, Max-Age=0). Arena-allocated. */
char *bill_srv_auth_session_cookie(bill_srv_call *call, const char *token);

#endif
