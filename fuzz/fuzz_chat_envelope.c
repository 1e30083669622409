/* fuzz/fuzz_chat_envelope.c - libFuzzer target for the chat layer's parsers
 * of untrusted bytes: the message codec (bl_chat_msg_parse), then, for
 * messages that parse, a decryption attempt against a fixed session (it
 * must refuse without changing state), and the prekey bundle JSON. The first
 * byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chat/chat_internal.h"

static bl_chat_session *fixed_session(void)
{
    static bl_chat_session *s;
    static bl_chat_bankkeys *k;
    if (s)
        return s;
    if (sodium_init() < 0)
        abort();
    uint8_t seed[32] = {1}, spk[32] = {2};
    if (chat_bankkeys_from_seed(seed, spk, 7, &k) != BL_OK)
        abort();
    bl_chat_bundle b;
    bl_chat_bankkeys_bundle(k, &b);
    bl_error e = {0};
    if (bl_chat_session_initiate(&b, &s, &e) != BL_OK)
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    bl_error e = {0};
    if (data[0] & 1) {
        char *s = malloc(n + 1);
        if (!s)
            return 0;
        memcpy(s, p, n);
        s[n] = 0;
        bl_chat_bundle b;
        if (bl_chat_bundle_from_json(s, &b, &e) == BL_OK)
            if (bl_chat_bundle_verify(&b, NULL, &e) == BL_OK && e.status != BL_OK)
                abort();
        free(s);
        return 0;
    }
    bl_chat_msg m;
    if (bl_chat_msg_parse(p, n, &m, &e) != BL_OK)
        return 0;
    if (m.header_len > n || m.ct_len != n - m.header_len)
        abort();
    uint8_t *pt = NULL;
    size_t len = 0;
    if (bl_chat_decrypt(fixed_session(), p, n, &pt, &len, &e) == BL_OK)
        abort(); /* nothing forged may open the session */
    free(pt);
    return 0;
}
