/* fuzz/fuzz_psi_frame.c - libFuzzer target for the PSI wire parsers: the
 * cleartext hello, frame headers, frame opening (AEAD) under a fixed test
 * key, and the setup and batch message decoders. The first input byte picks
 * the parser; the rest is the untrusted bytes a peer could send. Frames that
 * decrypt (the corpus holds some sealed with the test key) are fed on to the
 * message decoders, as the receiving loop does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psi/wire.h"

static const uint8_t test_key[32] = "blindlink psi fuzzing test key!";

static void decode_message(const uint8_t *p, size_t n)
{
    bl_error e = {0};
    if (n < 1)
        return;
    psi_setup s;
    uint64_t start;
    uint32_t cnt;
    const uint8_t *d;
    switch (p[0]) {
    case PSI_MSG_SETUP:
        (void)psi_setup_decode(p + 1, n - 1, &s, &e);
        break;
    case PSI_MSG_POINTS:
        if (psi_batch_decode(p + 1, n - 1, 32, 4096, &start, &cnt, &d, &e) == BL_OK) {
            /* points are validated by the group decoder, as in the protocol */
            uint8_t k[32] = {1}, q[32];
            for (uint32_t i = 0; i < cnt && i < 4; i++)
                if (crypto_scalarmult_ristretto255(q, k, d + 32 * i) != 0)
                    continue;
        }
        break;
    case PSI_MSG_RETURN:
        (void)psi_batch_decode(p + 1, n - 1, 12, 4096, &start, &cnt, &d, &e);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        if (bl_init() != BL_OK)
            abort();
        init = 1;
    }
    if (size < 1)
        return 0;
    bl_error e = {0};
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        psi_hello h;
        (void)psi_hello_decode(p, n, &h, &e);
        break;
    }
    case 1: {
        uint32_t ct;
        if (n >= PSI_FRAME_HDR)
            (void)psi_frame_header_parse(p, &ct, &e);
        break;
    }
    case 2: {
        uint8_t *out = malloc(n + 1);
        size_t ol = 0;
        if (out && psi_frame_open(test_key, 0, p, n, out, &ol, &e) == BL_OK)
            decode_message(out, ol);
        free(out);
        break;
    }
    default:
        decode_message(p, n);
        break;
    }
    return 0;
}
