/*
 * payment.c — rustbill.payment.PaymentService (wire-contract.md):
 * ListPayments and GetPayment. Login required; customers see their own
 * payments only (libbill forces the filter; others' ids are NOT_FOUND).
 * gateway_id filters take "balance" or an interface UUID.
 */
#include "conv.h"

#include "bill/payment.h"
#include "rustbill/payment.pb-c.h"

#include <string.h>

static Rustbill__Payment__PaymentRecord *record(bill_srv_call *call, const bill_payment *p)
{
    Rustbill__Payment__PaymentRecord *r = bill_srv_call_new(call, &rustbill__payment__payment_record__descriptor);
    if (!r)
        return NULL;
    r->id = conv_str(call, p->id);
    r->order_id = conv_str(call, p->order_id);
    r->invoice_id = conv_str(call, p->invoice_id);
    r->amount = conv_money(call, p->amount);
    r->currency = conv_str(call, p->currency);
    r->gateway_id = conv_str(call, p->gateway_id);
    r->gateway_payment_id = conv_str(call, p->gateway_payment_id);
    r->gateway_tx_id = conv_str(call, p->gateway_tx_id);
    r->status = conv_str(call, p->status);
    r->paid_at = conv_time(call, p->paid_at);
    r->created_at = conv_time(call, p->created_at);
    r->updated_at = conv_time(call, p->updated_at);
    return r;
}
CONV_ITEM_FN(record_item, bill_payment, record)

static int list_payments(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Payment__ListPaymentsRequest *req = (const Rustbill__Payment__ListPaymentsRequest *)in;
    bill_payment_filter f = {.version = BILL_PAYMENT_FILTER_VERSION};
    bill_payments l = {0};
    bill_page page;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "order_id", req->order_id, false)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "invoice_id", req->invoice_id, false)) != BILL_GRPC_OK)
        return st;
    if (req->gateway_id && *req->gateway_id && strcmp(req->gateway_id, "balance") != 0 &&
        !bill_uuid_valid(req->gateway_id))
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT,
                                   "gateway_id: \"%.64s\" is neither \"balance\" nor a valid UUID",
                                   req->gateway_id);
    if (req->status && *req->status && (rc = bill_payment_status_check(req->status)) < 0)
        return bill_srv_call_fail(call, rc);
    f.order_id = req->order_id;
    f.invoice_id = req->invoice_id;
    f.gateway_id = req->gateway_id;
    f.status = req->status;
    conv_page_in(req->pagination, &page);
    rc = bill_payment_list(bill_srv_call_db(call), bill_srv_call_actor(call), &f, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__payment__list_payments_response__descriptor,
                         "payments", l, record_item);
    bill_payments_clear(&l);
    return st;
}

static int get_payment(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Payment__GetPaymentRequest *req = (const Rustbill__Payment__GetPaymentRequest *)in;
    bill_payment *p = NULL;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_payment_get(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, &p);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__payment__get_payment_response__descriptor,
                    "payment", record(call, p));
    bill_payment_free(p);
    return st;
}

#define M(name, in, outd, fn) CONV_METHOD(payment, "PaymentService", name, in, outd, fn, 0)

static const bill_srv_method payment_methods[] = {
    M("ListPayments", list_payments_request, list_payments_response, list_payments),
    M("GetPayment", get_payment_request, get_payment_response, get_payment),
};

CONV_SERVICE(bill_srv_payment_service, "rustbill.payment.PaymentService", payment_methods);
