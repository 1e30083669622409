/* fuzz/fuzz_request.c - libFuzzer target for the service's request-body
 * parsers. The first byte picks the body kind (project, consent, withdraw,
 * agreement, approve, run, org, key, erasure, purpose, encodings); the rest
 * is the body. Also feeds the duration parser used by --clock-offset. Every
 * refusal must carry a message; nothing may crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/server.h>

static const char *const kinds[] = {"project", "consent", "withdraw", "agreement",
                                    "approve", "run",     "org",      "key",
                                    "erasure", "purpose", "encodings"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *kind = kinds[data[0] % (sizeof kinds / sizeof kinds[0])];
    bl_error e = {0};
    bl_status rc = bl_srv_validate_body(kind, (const char *)data + 1, size - 1, &e);
    if (rc != BL_OK && (e.msg[0] == '\0' || rc != e.status))
        abort();
    if (size < 64) {
        char buf[64];
        memcpy(buf, data + 1, size - 1);
        buf[size - 1] = '\0';
        int64_t secs = 0;
        bl_error e2 = {0};
        if (bl_srv_parse_duration(buf, &secs, &e2) != BL_OK && e2.msg[0] == '\0')
            abort();
    }
    return 0;
}
