/*
 * reflection.c — gRPC server reflection, v1 and v1alpha (R-SRV-4), so
 * `grpcurl -plaintext HOST:PORT list` and `describe` work.
 *
 * The descriptor set (FileDescriptorSet of every proto, imports included) is
 * produced by protoc at build time and embedded as bytes
 * (bill_srv_descriptor_set). protobuf-c ships no descriptor.proto bindings, so
 * the few fields needed (file name, package, dependencies, message / enum /
 * service names, method names) are read with a minimal wire-format walker.
 * The v1 and v1alpha messages are identical on the wire, so one set of
 * generated types (v1) serves both.
 */
#include "../transport/srv.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/reflection/v1/reflection.pb-c.h"

extern const unsigned char bill_srv_descriptor_set[];
extern const size_t bill_srv_descriptor_set_len;

typedef struct pb_span {
    const uint8_t *p;
    size_t n;
} pb_span;

typedef struct rfile {
    char name[128];
    char package[96];
    pb_span raw;                 /* serialized FileDescriptorProto */
    int deps[16];
    int ndeps;
    char *dep_names[16];
} rfile;

typedef struct rsym {
    char *name;                  /* fully qualified, no leading dot */
    int file;
} rsym;

static rfile *files;
static int nfiles;
static rsym *syms;
static int nsyms, capsyms;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- minimal protobuf reader ------------------------------------------- */

static bool rd_varint(pb_span *s, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64 && s->n; sh += 7) {
        uint8_t b = *s->p++;
        s->n--;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Next field: number and (for length-delimited) its bytes; other wire types
 * are skipped. Returns false at the end or on malformed input. */
static bool rd_field(pb_span *s, uint32_t *num, pb_span *val, int *wt)
{
    uint64_t key, v;
    if (!s->n || !rd_varint(s, &key))
        return false;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0: return rd_varint(s, &v);
    case 1: if (s->n < 8) return false; s->p += 8; s->n -= 8; return true;
    case 5: if (s->n < 4) return false; s->p += 4; s->n -= 4; return true;
    case 2:
        if (!rd_varint(s, &v) || v > s->n)
            return false;
        val->p = s->p;
        val->n = (size_t)v;
        s->p += v;
        s->n -= (size_t)v;
        return true;
    default: return false;
    }
}

static void span_str(pb_span v, char *out, size_t cap)
{
    size_t n = v.n < cap - 1 ? v.n : cap - 1;
    memcpy(out, v.p, n);
    out[n] = '\0';
}

static void add_sym(const char *full, int file)
{
    if (nsyms == capsyms) {
        int cap = capsyms ? capsyms * 2 : 256;
        rsym *n = realloc(syms, (size_t)cap * sizeof *n);
        if (!n)
            return;
        syms = n;
        capsyms = cap;
    }
    syms[nsyms].name = strdup(full);
    syms[nsyms].file = file;
    if (syms[nsyms].name)
        nsyms++;
}

/* What a named descriptor holds besides its name (field 1): a message its
 * nested messages (3) and enums (4), a service its methods (2); an enum or
 * a method is indexed by name only. */
typedef enum { NODE_LEAF, NODE_MESSAGE, NODE_SERVICE } node_kind;

/* Index `node` as prefix.name, then its children under that name. */
static void index_node(const char *prefix, pb_span node, int file, node_kind kind)
{
    pb_span s = node, v, name = {0};
    uint32_t num;
    int wt;
    char me[512], nm[256];

    while (rd_field(&s, &num, &v, &wt))
        if (num == 1 && wt == 2)
            name = v;
    if (!name.p)
        return;
    span_str(name, nm, sizeof nm);
    snprintf(me, sizeof me, "%s%s%s", prefix, *prefix ? "." : "", nm);
    add_sym(me, file);
    for (s = node; rd_field(&s, &num, &v, &wt);) {
        if (wt != 2)
            continue;
        if (kind == NODE_MESSAGE && (num == 3 || num == 4))
            index_node(me, v, file, num == 3 ? NODE_MESSAGE : NODE_LEAF);
        else if (kind == NODE_SERVICE && num == 2)
            index_node(me, v, file, NODE_LEAF);
    }
}

static void load(void)
{
    pb_span set = {bill_srv_descriptor_set, bill_srv_descriptor_set_len}, f;
    uint32_t num;
    int wt;
    pb_span scan = set;
    int count = 0;
    while (rd_field(&scan, &num, &f, &wt))
        if (num == 1 && wt == 2)
            count++;
    files = calloc((size_t)(count ? count : 1), sizeof *files);
    if (!files)
        return;
    while (rd_field(&set, &num, &f, &wt)) {
        if (num != 1 || wt != 2)
            continue;
        rfile *rf = &files[nfiles];
        rf->raw = f;
        pb_span s = f, v;
        while (rd_field(&s, &num, &v, &wt)) {
            if (wt != 2)
                continue;
            if (num == 1)
                span_str(v, rf->name, sizeof rf->name);
            else if (num == 2)
                span_str(v, rf->package, sizeof rf->package);
            else if (num == 3 && rf->ndeps < 16) {
                char d[128];
                span_str(v, d, sizeof d);
                rf->dep_names[rf->ndeps++] = strdup(d);
            }
        }
        s = f;
        while (rd_field(&s, &num, &v, &wt)) {
            if (wt != 2)
                continue;
            if (num == 4 || num == 5 || num == 6) /* message_type, enum_type, service */
                index_node(rf->package, v, nfiles,
                           num == 4 ? NODE_MESSAGE : num == 6 ? NODE_SERVICE : NODE_LEAF);
        }
        nfiles++;
    }
    for (int i = 0; i < nfiles; i++)
        for (int d = 0; d < files[i].ndeps; d++) {
            files[i].deps[d] = -1;
            for (int j = 0; j < nfiles; j++)
                if (files[i].dep_names[d] && strcmp(files[i].dep_names[d], files[j].name) == 0)
                    files[i].deps[d] = j;
        }
}

static int find_file(const char *name)
{
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i].name, name) == 0)
            return i;
    return -1;
}

static int find_symbol(const char *name)
{
    if (*name == '.')
        name++;
    for (int i = 0; i < nsyms; i++)
        if (strcmp(syms[i].name, name) == 0)
            return syms[i].file;
    return -1;
}

/* The file and its transitive imports, each once, the file itself first. */
static void collect(int fi, bool *seen, ProtobufCBinaryData *out, size_t *n)
{
    if (fi < 0 || seen[fi])
        return;
    seen[fi] = true;
    out[(*n)++] = (ProtobufCBinaryData){files[fi].raw.n, (uint8_t *)files[fi].raw.p};
    for (int d = 0; d < files[fi].ndeps; d++)
        collect(files[fi].deps[d], seen, out, n);
}

static void reflection_message(bill_srv_stream *st, void **state, const uint8_t *msg,
                               size_t len)
{
    (void)state;
    const bill_srv_service *const *services = bill_srv_services(bill_srv_stream_server(st));
    pthread_once(&once, load);
    Grpc__Reflection__V1__ServerReflectionRequest *req =
        grpc__reflection__v1__server_reflection_request__unpack(NULL, len, msg);
    if (!req) {
        bill_srv_stream_finish(st, BILL_GRPC_INVALID_ARGUMENT,
                               "malformed ServerReflectionRequest");
        return;
    }
    Grpc__Reflection__V1__ServerReflectionResponse resp =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    Grpc__Reflection__V1__ListServiceResponse list =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1__FileDescriptorResponse fdr =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1__ErrorResponse err = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    Grpc__Reflection__V1__ServiceResponse svc[64];
    Grpc__Reflection__V1__ServiceResponse *svcp[64];
    ProtobufCBinaryData fds[64];
    bool seen[64] = {false};
    size_t nfd = 0, ns = 0;
    int fi = -1;

    resp.valid_host = req->host;
    resp.original_request = req;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        for (size_t i = 0; services[i] && ns < 64; i++, ns++) {
            grpc__reflection__v1__service_response__init(&svc[ns]);
            svc[ns].name = (char *)services[i]->name;
            svcp[ns] = &svc[ns];
        }
        list.n_service = ns;
        list.service = svcp;
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        resp.list_services_response = &list;
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        fi = find_file(req->file_by_filename);
        goto file;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        fi = find_symbol(req->file_containing_symbol);
    file:
        if (fi < 0 || nfiles > 64) {
            err.error_code = BILL_GRPC_NOT_FOUND;
            err.error_message = "not found";
            resp.message_response_case =
                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
            resp.error_response = &err;
            break;
        }
        collect(fi, seen, fds, &nfd);
        fdr.n_file_descriptor_proto = nfd;
        fdr.file_descriptor_proto = fds;
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        resp.file_descriptor_response = &fdr;
        break;
    default:
        err.error_code = BILL_GRPC_UNIMPLEMENTED;
        err.error_message = "this reflection request is not supported (no extensions here)";
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        resp.error_response = &err;
        break;
    }
    bill_srv_stream_send(st, &resp.base);
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
}

static const bill_srv_stream_ops reflection_ops = {.message = reflection_message};

static const bill_srv_method v1_methods[] = {
    {.path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
     .input = &grpc__reflection__v1__server_reflection_request__descriptor,
     .output = &grpc__reflection__v1__server_reflection_response__descriptor,
     .stream = &reflection_ops},
};
static const bill_srv_method v1alpha_methods[] = {
    {.path = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     .input = &grpc__reflection__v1__server_reflection_request__descriptor,
     .output = &grpc__reflection__v1__server_reflection_response__descriptor,
     .stream = &reflection_ops},
};

const bill_srv_service bill_srv_reflection_v1_service = {
    "grpc.reflection.v1.ServerReflection", v1_methods, 1};
const bill_srv_service bill_srv_reflection_v1alpha_service = {
    "grpc.reflection.v1alpha.ServerReflection", v1alpha_methods, 1};
