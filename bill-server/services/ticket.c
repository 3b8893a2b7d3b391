/*
 * ticket.c — rustbill.ticket.TicketService (wire-contract.md): CreateTicket,
 * ListTickets, GetTicket, CreateReply. Login required. libbill scopes
 * customers to their own tickets (others NOT_FOUND), never returns internal
 * replies to them and refuses internal replies from them
 * (PERMISSION_DENIED). Lists carry no replies (libbill loads them on get).
 */
#include "conv.h"

#include "bill/ticket.h"
#include "rustbill/ticket.pb-c.h"

static Rustbill__Ticket__TicketReplyInfo *reply_info(bill_srv_call *call, const bill_ticket_reply *r)
{
    Rustbill__Ticket__TicketReplyInfo *i = bill_srv_call_new(call, &rustbill__ticket__ticket_reply_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, r->id);
    i->ticket_id = conv_str(call, r->ticket_id);
    i->user_id = conv_str(call, r->user_id);
    i->customer_id = conv_str(call, r->customer_id);
    i->content = conv_str(call, r->content);
    i->is_internal = r->is_internal;
    i->created_at = conv_time(call, r->created_at);
    return i;
}

static Rustbill__Ticket__TicketInfo *ticket_info(bill_srv_call *call, const bill_ticket *t)
{
    Rustbill__Ticket__TicketInfo *i = bill_srv_call_new(call, &rustbill__ticket__ticket_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, t->id);
    i->customer_id = conv_str(call, t->customer_id);
    i->title = conv_str(call, t->title);
    i->description = conv_str(call, t->description);
    i->status = conv_str(call, t->status);
    i->priority = conv_str(call, t->priority);
    i->assignee_user_id = conv_str(call, t->assignee_user_id);
    i->creator_user_id = conv_str(call, t->creator_user_id);
    i->created_at = conv_time(call, t->created_at);
    i->updated_at = conv_time(call, t->updated_at);
    if (t->reply_count && !(i->replies = bill_srv_call_alloc(call, t->reply_count * sizeof *i->replies)))
        return NULL;
    for (size_t k = 0; k < t->reply_count; k++)
        if (!(i->replies[k] = reply_info(call, &t->replies[k])))
            return NULL;
    i->n_replies = t->reply_count;
    return i;
}
CONV_ITEM_FN(ticket_info_item, bill_ticket, ticket_info)

static int create_ticket(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Ticket__CreateTicketRequest *req = (const Rustbill__Ticket__CreateTicketRequest *)in;
    bill_ticket *t = NULL;
    const char *cid = NULL;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, true, &cid)) != BILL_GRPC_OK)
        return st;
    rc = bill_ticket_create(bill_srv_call_db(call), bill_srv_call_actor(call), cid, req->title, req->description,
                            req->priority, &t);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__ticket__create_ticket_response__descriptor,
                    "ticket", ticket_info(call, t));
    bill_ticket_free(t);
    return st;
}

static int list_tickets(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Ticket__ListTicketsRequest *req = (const Rustbill__Ticket__ListTicketsRequest *)in;
    bill_ticket_filter f = {.version = BILL_TICKET_FILTER_VERSION};
    bill_tickets l = {0};
    bill_page page;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, false, &f.customer_id)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "assignee_user_id", req->assignee_user_id, false)) != BILL_GRPC_OK)
        return st;
    if (req->status && *req->status && (rc = bill_ticket_status_check(req->status)) < 0)
        return bill_srv_call_fail(call, rc);
    if (req->priority && *req->priority && (rc = bill_ticket_priority_check(req->priority)) < 0)
        return bill_srv_call_fail(call, rc);
    f.status = req->status;
    f.priority = req->priority;
    f.assignee_user_id = req->assignee_user_id;
    conv_page_in(req->pagination, &page);
    rc = bill_ticket_list(bill_srv_call_db(call), bill_srv_call_actor(call), &f, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__ticket__list_tickets_response__descriptor,
                         "tickets", l, ticket_info_item);
    bill_tickets_clear(&l);
    return st;
}

static int get_ticket(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Ticket__GetTicketRequest *req = (const Rustbill__Ticket__GetTicketRequest *)in;
    bill_ticket *t = NULL;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_ticket_get(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, &t);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__ticket__get_ticket_response__descriptor,
                    "ticket", ticket_info(call, t));
    bill_ticket_free(t);
    return st;
}

static int create_reply(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Ticket__CreateReplyRequest *req = (const Rustbill__Ticket__CreateReplyRequest *)in;
    bill_ticket_reply *r = NULL;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "ticket_id", req->ticket_id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_ticket_reply_create(bill_srv_call_db(call), bill_srv_call_actor(call), req->ticket_id, req->content,
                                  req->is_internal, &r);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__ticket__create_reply_response__descriptor,
                    "reply", reply_info(call, r));
    bill_ticket_reply_free(r);
    return st;
}

#define M(name, in, outd, fn) CONV_METHOD(ticket, "TicketService", name, in, outd, fn, 0)

static const bill_srv_method ticket_methods[] = {
    M("CreateTicket", create_ticket_request, create_ticket_response, create_ticket),
    M("ListTickets", list_tickets_request, list_tickets_response, list_tickets),
    M("GetTicket", get_ticket_request, get_ticket_response, get_ticket),
    M("CreateReply", create_reply_request, create_reply_response, create_reply),
};

CONV_SERVICE(bill_srv_ticket_service, "rustbill.ticket.TicketService", ticket_methods);
