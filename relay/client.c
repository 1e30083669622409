/* relay/client.c - HTTP client of the chat relay for the bank bot and the
 * customer CLI, on libcurl (a well-kept HTTP client; the relay protocol is
 * plain JSON over HTTP/1.1, docs/chat.md). One easy handle per client, so
 * the connection is reused across requests. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include <blindlink/relay.h>

struct bl_relay_client {
    CURL *h;
    char *url;
};

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->n + n > (8u << 20))
        return 0; /* refuse absurd answers */
    char *np = realloc(b->p, b->n + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, ptr, n);
    b->n += n;
    np[b->n] = 0;
    b->p = np;
    return n;
}

bl_status bl_relay_client_new(const char *url, bl_relay_client **out, bl_error *err)
{
    *out = NULL;
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return bl_error_set(err, BL_EINVAL, "--relay '%s': expected http://HOST:PORT",
                            url ? url : "");
    bl_relay_client *c = calloc(1, sizeof *c);
    if (!c || !(c->h = curl_easy_init()) || !(c->url = strdup(url))) {
        bl_relay_client_free(c);
        return bl_error_set(err, BL_ENOMEM, "cannot set up the HTTP client");
    }
    size_t l = strlen(c->url);
    while (l > 0 && c->url[l - 1] == '/')
        c->url[--l] = 0;
    *out = c;
    return BL_OK;
}

void bl_relay_client_free(bl_relay_client *c)
{
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    free(c->url);
    free(c);
}

/* One request; *resp gets the parsed JSON body (caller decrefs). */
static bl_status call(bl_relay_client *c, const char *method, const char *path, const char *token,
                      const char *body, long timeout_s, json_t **resp, bl_error *err)
{
    *resp = NULL;
    char url[2048], auth[160];
    snprintf(url, sizeof url, "%s%s", c->url, path);
    buf b = {0};
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
        sodium_memzero(auth, sizeof auth);
    }
    CURL *h = c->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    if (rc != CURLE_OK) {
        free(b.p);
        return bl_error_set(err, BL_ENET, "relay %s: %s", c->url, curl_easy_strerror(rc));
    }
    json_t *o = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    if (code < 200 || code > 299) {
        const char *m = json_string_value(json_object_get(o, "error"));
        bl_status s = code == 401 || code == 403 ? BL_EAUTH
                      : code == 404              ? BL_ENOTFOUND
                      : code == 413              ? BL_ELIMIT
                      : code == 429              ? BL_ENET /* the recipient's queue: retry later */
                      : code == 409              ? BL_ESTATE
                                                 : BL_EPROTO;
        bl_error_set(err, s, "relay answered %ld to %s %s: %s", code, method, path,
                     m ? m : "(no message)");
        json_decref(o);
        return s;
    }
    if (!o)
        return bl_error_set(err, BL_EPROTO, "relay answered %s %s with a non-JSON body", method,
                            path);
    *resp = o;
    return BL_OK;
}

bl_status bl_relay_register(bl_relay_client *c, char account[80], char token[96], bl_error *err)
{
    json_t *o = NULL;
    bl_status s = call(c, "POST", "/v1/accounts", NULL, "{}", 10, &o, err);
    if (s != BL_OK)
        return s;
    const char *a = json_string_value(json_object_get(o, "account"));
    const char *t = json_string_value(json_object_get(o, "token"));
    if (!a || !t || strlen(a) >= 80 || strlen(t) >= 96)
        s = bl_error_set(err, BL_EPROTO, "relay: malformed account answer");
    else
        snprintf(account, 80, "%s", a), snprintf(token, 96, "%s", t);
    json_decref(o);
    return s;
}

bl_status bl_relay_put_bundle(bl_relay_client *c, const char *token, const char *name,
                              const bl_chat_bundle *b, bl_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/banks/%s", name);
    char *js = bl_chat_bundle_to_json(b);
    if (!js)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    json_t *o = NULL;
    bl_status s = call(c, "PUT", path, token, js, 10, &o, err);
    free(js);
    json_decref(o);
    return s;
}

bl_status bl_relay_get_bundle(bl_relay_client *c, const char *name, bl_chat_bundle *b,
                              bl_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/banks/%s/bundle", name);
    json_t *o = NULL;
    bl_status s = call(c, "GET", path, NULL, NULL, 10, &o, err);
    if (s != BL_OK)
        return s;
    char *js = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!js)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    s = bl_chat_bundle_from_json(js, b, err);
    free(js);
    return s;
}

bl_status bl_relay_send(bl_relay_client *c, const char *token, const char *to, const uint8_t *body,
                        size_t len, bl_error *err)
{
    char *b64 = bl_chat_b64(body, len);
    json_t *req = b64 ? json_pack("{s:s,s:s}", "to", to, "body", b64) : NULL;
    char *js = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    free(b64);
    if (!js)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    json_t *o = NULL;
    bl_status s = call(c, "POST", "/v1/send", token, js, 10, &o, err);
    free(js);
    json_decref(o);
    return s;
}

bl_status bl_relay_poll(bl_relay_client *c, const char *token, uint64_t after, int wait_s,
                        bl_relay_on_message fn, void *ctx, bl_error *err)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/messages?after=%llu&wait=%d", (unsigned long long)after,
             wait_s);
    json_t *o = NULL;
    bl_status s = call(c, "GET", path, token, NULL, wait_s + 15, &o, err);
    if (s != BL_OK)
        return s;
    json_t *arr = json_object_get(o, "messages");
    if (!json_is_array(arr)) {
        json_decref(o);
        return bl_error_set(err, BL_EPROTO, "relay: $.messages missing in the poll answer");
    }
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        json_int_t seq = json_integer_value(json_object_get(m, "seq"));
        const char *from = json_string_value(json_object_get(m, "from"));
        const char *b64 = json_string_value(json_object_get(m, "body"));
        uint8_t *bin = NULL;
        size_t n = 0;
        bl_error e2 = {0};
        if (seq <= 0 || !from || !b64 ||
            bl_chat_unb64(b64, &bin, &n, BL_CHAT_MAX_MESSAGE, &e2) != BL_OK) {
            /* an envelope the relay mangled: hand it on empty so the cursor moves */
            free(bin);
            bin = NULL;
            n = 0;
        }
        int stop = fn(ctx, (uint64_t)(seq > 0 ? seq : 0), from ? from : "", bin, n);
        free(bin);
        if (stop)
            break;
    }
    json_decref(o);
    return BL_OK;
}
