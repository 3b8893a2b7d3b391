/*
 * billing.c — rustbill.billing.BillingService (wire-contract.md):
 * ListInvoices and GetInvoice. Login required; customers see their own
 * invoices only (explicit other customer_id / others' ids: NOT_FOUND).
 * Dates (billing period, due date) go out as libbill keeps them
 * ("YYYY-MM-DD", "" when unset); instants as RFC 3339. Lists carry no items
 * (as libbill loads them on get only).
 */
#include "conv.h"

#include "bill/invoice.h"
#include "rustbill/billing.pb-c.h"

static Rustbill__Billing__InvoiceInfo *invoice_info(bill_srv_call *call, const bill_invoice *v)
{
    Rustbill__Billing__InvoiceInfo *i = bill_srv_call_new(call, &rustbill__billing__invoice_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, v->id);
    i->invoice_number = conv_str(call, v->invoice_number);
    i->customer_id = conv_str(call, v->customer_id);
    i->billing_period_start = conv_str(call, v->billing_period_start);
    i->billing_period_end = conv_str(call, v->billing_period_end);
    i->amount = conv_money(call, v->amount);
    i->tax_amount = conv_money(call, v->tax_amount);
    i->total_amount = conv_money(call, v->total_amount);
    i->status = conv_str(call, v->status);
    i->issued_at = conv_time(call, v->issued_at);
    i->paid_at = conv_time(call, v->paid_at);
    i->due_date = conv_str(call, v->due_date);
    i->notes = conv_str(call, v->notes);
    i->created_at = conv_time(call, v->created_at);
    i->updated_at = conv_time(call, v->updated_at);
    if (v->item_count && !(i->items = bill_srv_call_alloc(call, v->item_count * sizeof *i->items)))
        return NULL;
    for (size_t k = 0; k < v->item_count; k++) {
        const bill_invoice_item *it = &v->items[k];
        Rustbill__Billing__InvoiceItemInfo *x =
            bill_srv_call_new(call, &rustbill__billing__invoice_item_info__descriptor);
        if (!x)
            return NULL;
        x->id = conv_str(call, it->id);
        x->description = conv_str(call, it->description);
        x->quantity = it->quantity;
        x->unit_price = conv_money(call, it->unit_price);
        x->amount = conv_money(call, it->amount);
        i->items[k] = x;
    }
    i->n_items = v->item_count;
    return i;
}
CONV_ITEM_FN(invoice_info_item, bill_invoice, invoice_info)

static int list_invoices(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Billing__ListInvoicesRequest *req = (const Rustbill__Billing__ListInvoicesRequest *)in;
    bill_invoice_filter f = {.version = BILL_INVOICE_FILTER_VERSION};
    bill_invoices l = {0};
    bill_page page;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, false, &f.customer_id)) != BILL_GRPC_OK)
        return st;
    if (req->status && *req->status && (rc = bill_invoice_status_check(req->status)) < 0)
        return bill_srv_call_fail(call, rc);
    f.status = req->status;
    conv_page_in(req->pagination, &page);
    rc = bill_invoice_list(bill_srv_call_db(call), bill_srv_call_actor(call), &f, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__billing__list_invoices_response__descriptor,
                         "invoices", l, invoice_info_item);
    bill_invoices_clear(&l);
    return st;
}

static int get_invoice(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Billing__GetInvoiceRequest *req = (const Rustbill__Billing__GetInvoiceRequest *)in;
    bill_invoice *v = NULL;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_invoice_get(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, &v);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__billing__get_invoice_response__descriptor,
                    "invoice", invoice_info(call, v));
    bill_invoice_free(v);
    return st;
}

#define M(name, in, outd, fn) CONV_METHOD(billing, "BillingService", name, in, outd, fn, 0)

static const bill_srv_method billing_methods[] = {
    M("ListInvoices", list_invoices_request, list_invoices_response, list_invoices),
    M("GetInvoice", get_invoice_request, get_invoice_response, get_invoice),
};

CONV_SERVICE(bill_srv_billing_service, "rustbill.billing.BillingService", billing_methods);
