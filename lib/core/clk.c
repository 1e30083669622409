/* lib/core/clk.c - CLK sets in memory and their two file formats: clkhash JSON
 * (`{"clks": ["base64", ...]}`, byte-identical to clkhash's json.dump output)
 * and the blindlink binary format (docs/formats.md): 64-byte header, fixed
 * size records, optional ids, BLAKE2b-256 checksum trailer. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include "core/internal.h"
#include "core/utf8.h"

#define FLAG_IDS 1u
#define FLAG_CHECKSUM 2u
#define FLAG_META 4u
#define KNOWN_FLAGS (FLAG_IDS | FLAG_CHECKSUM | FLAG_META)

/* Metadata is kept as canonical JSON text (sorted keys, compact) so that the
 * same options always give the same bytes, and files stay reproducible. */
static bl_status canon_meta(const char *json, size_t len, char **out, bl_error *err)
{
    *out = NULL;
    if (!json)
        return BL_OK;
    if (len > BL_CLK_MAX_META_BYTES)
        return bl_error_set(err, BL_EINVAL, "metadata is %zu bytes (max %u)", len,
                            BL_CLK_MAX_META_BYTES);
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return bl_error_set(err, BL_EINVAL, "metadata is not a JSON object%s%s", o ? "" : ": ",
                            o ? "" : je.text);
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return *out ? BL_OK : bl_error_set(err, BL_ENOMEM, "out of memory");
}

bl_status bl_clkset_set_meta(bl_clkset *s, const char *json, bl_error *err)
{
    char *m = NULL;
    bl_status st = canon_meta(json, json ? strlen(json) : 0, &m, err);
    if (st != BL_OK)
        return st;
    free(s->meta);
    s->meta = m;
    return BL_OK;
}

static size_t mem_stride(uint32_t nbytes)
{
    return ((size_t)nbytes + 63) & ~(size_t)63;
}

static uint32_t disk_record_bytes(uint32_t nbytes)
{
    return (nbytes + 7u) & ~7u;
}

/* ---- base64 (standard alphabet with padding) ----------------------------------
 * Encoding is a table lookup per 6 bits (libsodium's constant-time encoder
 * was ~12% of `blindlink encode`'s CPU time); it only ever sees CLKs, which
 * are written out as they are. Decoding stays libsodium's. */

size_t bl_base64_encoded_len(size_t nbytes)
{
    return (nbytes + 2) / 3 * 4;
}

void bl_base64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = abc[v >> 18];
        *out++ = abc[(v >> 12) & 63];
        *out++ = abc[(v >> 6) & 63];
        *out++ = abc[v & 63];
    }
    if (i < n) {
        const uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = abc[v >> 18];
        *out++ = abc[(v >> 12) & 63];
        *out++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

bl_status bl_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap,
                           size_t *outlen)
{
    const char *end = NULL;
    size_t n = 0;
    if (inlen % 4 != 0)
        return BL_EINPUT;
    if (sodium_base642bin(out, cap, in, inlen, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != in + inlen)
        return BL_EINPUT;
    *outlen = n;
    return BL_OK;
}

/* ---- sets ---------------------------------------------------------------------- */

bl_status bl_clkset_new(uint32_t nbits, size_t capacity_hint, bl_clkset **out, bl_error *err)
{
    *out = NULL;
    if (nbits == 0 || nbits > BL_CLK_MAX_BITS)
        return bl_error_set(err, BL_EINVAL, "filter length %u bits is outside 1..%u", nbits,
                            BL_CLK_MAX_BITS);
    bl_clkset *s = calloc(1, sizeof *s);
    if (!s)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    s->nbits = nbits;
    s->nbytes = (nbits + 7) / 8;
    s->stride = mem_stride(s->nbytes);
    if (capacity_hint) {
        if (capacity_hint > SIZE_MAX / s->stride) {
            free(s);
            return bl_error_set(err, BL_ENOMEM, "too many filters");
        }
        s->data = bli_aligned_alloc(capacity_hint * s->stride);
        if (!s->data) {
            free(s);
            return bl_error_set(err, BL_ENOMEM, "out of memory for %zu filters", capacity_hint);
        }
        s->capacity = capacity_hint;
    }
    *out = s;
    return BL_OK;
}

void bl_clkset_free(bl_clkset *s)
{
    if (!s)
        return;
    if (s->ids) {
        for (size_t i = 0; i < s->count; i++)
            free(s->ids[i]);
        free(s->ids);
    }
    bli_aligned_free(s->data);
    free(s->meta);
    free(s);
}

static bl_status grow(bl_clkset *s, bl_error *err)
{
    size_t cap = s->capacity ? s->capacity * 2 : 1024;
    if (cap > SIZE_MAX / s->stride)
        return bl_error_set(err, BL_ENOMEM, "too many filters");
    uint8_t *d = bli_aligned_alloc(cap * s->stride);
    if (!d)
        return bl_error_set(err, BL_ENOMEM, "out of memory for %zu filters", cap);
    if (s->count)
        memcpy(d, s->data, s->count * s->stride);
    bli_aligned_free(s->data);
    s->data = d;
    if (s->ids && bli_resize((void **)&s->ids, cap, sizeof *s->ids) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    s->capacity = cap;
    return BL_OK;
}

/* A record id is text that reaches CSV/JSON outputs and the service's
 * audit log: valid UTF-8 without NUL bytes. `path` NULL: not from a file. */
static bl_status check_id(const char *id, size_t len, const char *path, size_t rec,
                          bl_error *err)
{
    const char *nul = memchr(id, 0, len);
    long bad = bli_utf8_invalid_at(id, nul ? (size_t)(nul - id) : len);
    if (bad < 0 && !nul)
        return BL_OK;
    const char *what = bad >= 0 ? "is not valid UTF-8" : "contains a NUL byte";
    size_t at = bad >= 0 ? (size_t)bad : (size_t)(nul - id);
    if (path)
        return bl_error_set(err, BL_EINPUT, "%s: id of record %zu %s (byte %zu)", path, rec, what,
                            at);
    return bl_error_set(err, BL_EINPUT, "record id %s (byte %zu)", what, at);
}

bl_status bl_clkset_append(bl_clkset *s, const uint8_t *bytes, const char *id, bl_error *err)
{
    if (s->count == s->capacity) {
        bl_status st = grow(s, err);
        if (st != BL_OK)
            return st;
    }
    if (id && !s->ids) {
        s->ids = calloc(s->capacity, sizeof *s->ids);
        if (!s->ids)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        for (size_t i = 0; i < s->count; i++) {
            s->ids[i] = strdup("");
            if (!s->ids[i])
                return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
    }
    if (s->ids) {
        if (id && strlen(id) > BL_CLK_MAX_ID_BYTES)
            return bl_error_set(err, BL_EINPUT, "record id longer than %u bytes",
                                BL_CLK_MAX_ID_BYTES);
        if (id) {
            bl_status st = check_id(id, strlen(id), NULL, s->count, err);
            if (st != BL_OK)
                return st;
        }
        s->ids[s->count] = strdup(id ? id : "");
        if (!s->ids[s->count])
            return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    uint8_t *dst = s->data + s->count * s->stride;
    memcpy(dst, bytes, s->nbytes);
    memset(dst + s->nbytes, 0, s->stride - s->nbytes);
    /* clear pad bits of a partial last byte so popcounts only see nbits bits */
    if (s->nbits % 8)
        dst[s->nbytes - 1] &= (uint8_t)(0xFFu << (8 - s->nbits % 8));
    s->count++;
    return BL_OK;
}

/* ---- reading ------------------------------------------------------------------ */

/* A file of another kind (CSV, a model, a schema, groups) where the
 * encodings belong: 1 with the message set, else 0. */
static int not_clks(const char *path, bl_error *err)
{
    const char *kind = bli_kind_other_file(path, BLI_KIND_CLKS);
    if (*kind)
        bl_error_set(err, BL_EINPUT,
                     "%s is %s, not CLKs: give the binary or clkhash JSON encodings that "
                     "encode wrote",
                     path, kind);
    return *kind != 0;
}

static bl_status read_json(const char *path, size_t max_count, bl_clkset **out, bl_error *err)
{
    json_error_t je;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: unable to open: %s", path, strerror(errno));
    /* a UTF-8 byte order mark (added by some editors) is not JSON: skipped */
    unsigned char bom[3];
    if (fread(bom, 1, 3, fp) != 3 || !bli_bom_len(bom, 3))
        rewind(fp);
    json_t *root = json_loadf(fp, JSON_REJECT_DUPLICATES, &je);
    fclose(fp);
    if (!root) {
        if (je.line < 0)
            return bl_error_set(err, BL_EIO, "%s: %s", path, je.text);
        if (not_clks(path, err))
            return BL_EINPUT;
        return bl_error_set(err, BL_EINPUT, "%s:%d:%d: invalid JSON: %s", path, je.line,
                            je.column, je.text);
    }
    json_t *arr = json_is_object(root) ? json_object_get(root, "clks") : NULL;
    if (!json_is_array(arr)) {
        json_decref(root);
        if (not_clks(path, err))
            return BL_EINPUT;
        return bl_error_set(err, BL_EINPUT, "%s: expected an object with a \"clks\" array", path);
    }
    size_t n = json_array_size(arr);
    if (n == 0) {
        json_decref(root);
        return bl_error_set(err, BL_EINPUT, "%s: no encodings in \"clks\"", path);
    }
    if (max_count && n > max_count) {
        json_decref(root);
        return bl_error_set(err, BL_ELIMIT, "%s: %zu encodings exceed the cap of %zu", path, n,
                            max_count);
    }
    bl_clkset *s = NULL;
    uint8_t *buf = NULL;
    bl_status st = BL_OK;
    size_t first_len = 0;
    for (size_t i = 0; i < n && st == BL_OK; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) {
            st = bl_error_set(err, BL_EINPUT, "%s: clks[%zu] is not a string", path, i);
            break;
        }
        const char *b64 = json_string_value(v);
        size_t blen = json_string_length(v);
        if (i == 0) {
            size_t cap = blen / 4 * 3;
            buf = malloc(cap ? cap : 1);
            if (!buf) {
                st = bl_error_set(err, BL_ENOMEM, "out of memory");
                break;
            }
            if (bl_base64_decode(b64, blen, buf, cap, &first_len) != BL_OK || first_len == 0) {
                st = bl_error_set(err, BL_EINPUT, "%s: clks[0]: corrupt base64", path);
                break;
            }
            if (first_len * 8 > BL_CLK_MAX_BITS) {
                st = bl_error_set(err, BL_EINPUT, "%s: clks[0]: %zu bytes is too long", path,
                                  first_len);
                break;
            }
            st = bl_clkset_new((uint32_t)first_len * 8, n, &s, err);
            if (st != BL_OK)
                break;
        } else {
            size_t len = 0;
            /* the same base64 length holds 1-2 bytes fewer (padding): the
             * decoded length must be first_len too, or the rest of buf
             * would be the previous record's bytes */
            if (blen != bl_base64_encoded_len(first_len) ||
                bl_base64_decode(b64, blen, buf, first_len, &len) != BL_OK || len != first_len) {
                /* distinguish a length mismatch from corruption for the message */
                size_t cap = blen / 4 * 3 + 3;
                uint8_t *tmp = malloc(cap);
                size_t l2 = 0;
                int ok = tmp && bl_base64_decode(b64, blen, tmp, cap, &l2) == BL_OK;
                free(tmp);
                if (ok)
                    st = bl_error_set(err, BL_EINPUT,
                                      "%s: clks[%zu] has %zu bytes but clks[0] has %zu", path, i,
                                      l2, first_len);
                else
                    st = bl_error_set(err, BL_EINPUT, "%s: clks[%zu]: corrupt base64", path, i);
                break;
            }
        }
        st = bl_clkset_append(s, buf, NULL, err);
    }
    free(buf);
    json_decref(root);
    if (st != BL_OK) {
        bl_clkset_free(s);
        return st;
    }
    *out = s;
    return BL_OK;
}

static bl_status read_exact(FILE *fp, void *buf, size_t n, const char *path, const char *what,
                            crypto_generichash_state *h, bl_error *err)
{
    if (n && fread(buf, 1, n, fp) != n)
        return bl_error_set(err, BL_EINPUT, "%s: truncated file (while reading %s)", path, what);
    if (h)
        crypto_generichash_update(h, buf, n);
    return BL_OK;
}

/* The metadata section: u32 length, then that many bytes of a JSON object. */
static bl_status read_meta(const char *path, FILE *fp, bl_clkset *s, crypto_generichash_state *h,
                           bl_error *err)
{
    uint8_t lb[4];
    bl_status st = read_exact(fp, lb, 4, path, "the metadata", h, err);
    if (st != BL_OK)
        return st;
    uint32_t len = bli_load_le32(lb);
    if (len > BL_CLK_MAX_META_BYTES)
        return bl_error_set(err, BL_EINPUT, "%s: metadata of %u bytes (max %u)", path, len,
                            BL_CLK_MAX_META_BYTES);
    char *buf = malloc((size_t)len + 1);
    if (!buf)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    st = read_exact(fp, buf, len, path, "the metadata", h, err);
    if (st == BL_OK) {
        buf[len] = '\0';
        bl_error e2 = {0};
        if (canon_meta(buf, len, &s->meta, &e2) != BL_OK)
            st = bl_error_set(err, BL_EINPUT, "%s: %s", path, e2.msg);
    }
    free(buf);
    return st;
}

/* The header's version, sizes and flags, and (for a regular file) that the
 * file is as long as the header promises, before anything is allocated. */
static bl_status check_bin_header(const char *path, FILE *fp, const uint8_t *hdr, size_t max_count,
                                  bl_error *err)
{
    uint32_t version = bli_load_le32(hdr + 8), nbits = bli_load_le32(hdr + 12);
    uint64_t count = bli_load_le64(hdr + 16);
    uint32_t rec = bli_load_le32(hdr + 24), flags = bli_load_le32(hdr + 28);
    if (version != BL_CLKBIN_VERSION)
        return bl_error_set(err, BL_EINPUT,
                            "%s: binary CLK format version %u is not supported (this build reads %u)",
                            path, version, BL_CLKBIN_VERSION);
    if (nbits == 0 || nbits > BL_CLK_MAX_BITS)
        return bl_error_set(err, BL_EINPUT, "%s: header: invalid filter length %u", path, nbits);
    uint32_t nbytes = (nbits + 7) / 8;
    if (rec != disk_record_bytes(nbytes))
        return bl_error_set(err, BL_EINPUT, "%s: header: record size %u does not fit %u bits", path,
                            rec, nbits);
    if (flags & ~KNOWN_FLAGS)
        return bl_error_set(err, BL_EINPUT, "%s: header: unknown flags 0x%x", path, flags);
    if (count == 0)
        return bl_error_set(err, BL_EINPUT, "%s: no encodings in file", path);
    if (max_count && count > max_count)
        return bl_error_set(err, BL_ELIMIT, "%s: %llu encodings exceed the cap of %zu", path,
                            (unsigned long long)count, max_count);
    /* check the size before allocating, so a lying header cannot make us allocate */
    struct stat sb;
    if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode)) {
        uint64_t need = BL_CLKBIN_HEADER_BYTES + count * (uint64_t)rec;
        if (count > UINT64_MAX / rec || (uint64_t)sb.st_size < need)
            return bl_error_set(err, BL_EINPUT,
                                "%s: truncated file: header promises %llu records of %u bytes "
                                "but the file has only %lld bytes",
                                path, (unsigned long long)count, rec, (long long)sb.st_size);
    }
    return BL_OK;
}

/* Pad bytes and the pad bits of a partial last byte must be 0 on disk. */
static int bin_record_clean(const uint8_t *r, uint32_t nbits, uint32_t rec)
{
    const uint32_t nbytes = (nbits + 7) / 8;
    int bad = 0;
    for (uint32_t b = nbytes; b < rec; b++)
        bad |= r[b];
    if (nbits % 8)
        bad |= r[nbytes - 1] & (0xFFu >> (nbits % 8));
    return !bad;
}

/* The count records of rec bytes each, into the set's preallocated rows.
 * Why blocks: one fread and one hash update per record was 375K read()
 * calls and most of the load time of a 1M-record file; a block of a few
 * MB goes straight into the rows when the disk record is the row (rec ==
 * stride, e.g. 1024 or 6144 bits) and through a staging buffer if not. */
static bl_status read_bin_records(const char *path, FILE *fp, bl_clkset *s, uint64_t count,
                                  uint32_t rec, crypto_generichash_state *h, bl_error *err)
{
    enum { BLOCK_BYTES = 4 << 20 };
    assert(s->count == 0 && s->capacity >= count && rec <= s->stride);
    const int direct = rec == s->stride;
    const size_t per = BLOCK_BYTES / rec ? BLOCK_BYTES / rec : 1;
    uint8_t *stage = direct ? NULL : malloc(per * rec);
    if (!direct && !stage)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    bl_status st = BL_OK;
    for (uint64_t i = 0; i < count && st == BL_OK;) {
        const size_t n = count - i < per ? (size_t)(count - i) : per;
        uint8_t *rows = s->data + (size_t)i * s->stride, *buf = direct ? rows : stage;
        st = read_exact(fp, buf, n * rec, path, "records", h, err);
        for (size_t j = 0; j < n && st == BL_OK; j++) {
            const uint8_t *r = buf + j * rec;
            if (!bin_record_clean(r, s->nbits, rec))
                st = bl_error_set(err, BL_EINPUT, "%s: record %llu has bits set beyond %u", path,
                                  (unsigned long long)(i + j), s->nbits);
            else if (!direct) {
                memcpy(rows + j * s->stride, r, rec);
                memset(rows + j * s->stride + rec, 0, s->stride - rec);
            }
        }
        i += n;
        if (st == BL_OK)
            s->count = (size_t)i;
    }
    free(stage);
    return st;
}

/* The ids section: for each record a u32 length and that many bytes. */
static bl_status read_bin_ids(const char *path, FILE *fp, bl_clkset *s,
                              crypto_generichash_state *h, bl_error *err)
{
    bl_status st = BL_OK;
    s->ids = calloc(s->capacity, sizeof *s->ids);
    if (!s->ids)
        st = bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->count && st == BL_OK; i++) {
        uint8_t lb[4];
        st = read_exact(fp, lb, 4, path, "record ids", h, err);
        if (st != BL_OK)
            break;
        uint32_t len = bli_load_le32(lb);
        if (len > BL_CLK_MAX_ID_BYTES) {
            st = bl_error_set(err, BL_EINPUT, "%s: id of record %zu is %u bytes (max %u)", path,
                              i, len, BL_CLK_MAX_ID_BYTES);
            break;
        }
        char *id = malloc(len + 1);
        if (!id) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        s->ids[i] = id;
        st = read_exact(fp, id, len, path, "record ids", h, err);
        id[len] = '\0';
        if (st == BL_OK)
            st = check_id(id, len, path, i, err);
    }
    return st;
}

/* the header's schema fingerprint (all zero: none recorded) */
static void header_fingerprint(bl_clkset *s, const uint8_t *hdr)
{
    memcpy(s->fingerprint, hdr + 32, BL_FINGERPRINT_BYTES);
    for (size_t i = 0; i < BL_FINGERPRINT_BYTES; i++)
        if (s->fingerprint[i])
            s->has_fingerprint = 1;
}

static bl_status read_bin(const char *path, FILE *fp, size_t max_count, bl_clkset **out,
                          bl_error *err)
{
    uint8_t hdr[BL_CLKBIN_HEADER_BYTES];
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, BL_FINGERPRINT_BYTES);
    bl_status st = read_exact(fp, hdr, sizeof hdr, path, "the header", &h, err);
    if (st != BL_OK)
        return st;
    uint32_t nbits = bli_load_le32(hdr + 12), rec = bli_load_le32(hdr + 24);
    uint32_t flags = bli_load_le32(hdr + 28);
    uint64_t count = bli_load_le64(hdr + 16);
    st = check_bin_header(path, fp, hdr, max_count, err);
    if (st != BL_OK)
        return st;
    bl_clkset *s = NULL;
    st = bl_clkset_new(nbits, (size_t)count, &s, err);
    if (st != BL_OK)
        return st;
    header_fingerprint(s, hdr);
    st = read_bin_records(path, fp, s, count, rec, &h, err);
    if (st == BL_OK && (flags & FLAG_IDS))
        st = read_bin_ids(path, fp, s, &h, err);
    if (st == BL_OK && (flags & FLAG_META))
        st = read_meta(path, fp, s, &h, err);
    if (st == BL_OK && (flags & FLAG_CHECKSUM)) {
        uint8_t want[BL_FINGERPRINT_BYTES], got[BL_FINGERPRINT_BYTES];
        crypto_generichash_final(&h, got, sizeof got);
        st = read_exact(fp, want, sizeof want, path, "the checksum", NULL, err);
        if (st == BL_OK && sodium_memcmp(want, got, sizeof got) != 0)
            st = bl_error_set(err, BL_EINPUT, "%s: checksum mismatch: the file is corrupt", path);
    }
    if (st == BL_OK && fgetc(fp) != EOF)
        st = bl_error_set(err, BL_EINPUT, "%s: unexpected data after the last section", path);
    if (st != BL_OK) {
        bl_clkset_free(s);
        return st;
    }
    *out = s;
    return BL_OK;
}

/* Open `path` and tell binary from JSON by the magic; the stream is
 * rewound. An empty file is an input error. */
static bl_status open_sniff(const char *path, FILE **fpo, int *is_bin, bl_error *err)
{
    *fpo = NULL;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return bl_error_set(err, BL_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    if (got == 0) {
        fclose(fp);
        return bl_error_set(err, BL_EINPUT, "%s: empty file", path);
    }
    *is_bin = got == 8 && memcmp(magic, BL_CLKBIN_MAGIC, 8) == 0;
    rewind(fp);
    *fpo = fp;
    return BL_OK;
}

bl_status bl_clkset_read(const char *path, bl_clk_format fmt, size_t max_count, bl_clkset **out,
                         bl_error *err)
{
    *out = NULL;
    FILE *fp;
    int is_bin;
    bl_status st = open_sniff(path, &fp, &is_bin, err);
    if (st != BL_OK)
        return st;
    if (fmt == BL_CLK_BIN && !is_bin) {
        fclose(fp);
        return bl_error_set(err, BL_EINPUT, "%s: not a blindlink binary CLK file (bad magic)", path);
    }
    if (fmt == BL_CLK_JSON && is_bin) {
        fclose(fp);
        return bl_error_set(err, BL_EINPUT, "%s: binary CLK file where JSON was expected", path);
    }
    if (is_bin) {
        st = read_bin(path, fp, max_count, out, err);
        fclose(fp);
    } else {
        fclose(fp);
        st = read_json(path, max_count, out, err);
    }
    return st;
}

/* ---- rows of a binary file (distributed matching) ------------------------------ */

/* records [first, last) into their places of s->data (allocated for all
 * count records, never touched elsewhere); pad bits must be 0 */
static bl_status read_rows_at(const char *path, FILE *fp, bl_clkset *s, size_t first,
                              size_t last, uint32_t rec, bl_error *err)
{
    const uint32_t nbits = s->nbits, nbytes = s->nbytes;
    uint8_t recbuf[BL_CLK_MAX_BITS / 8 + 8];
    if (fseeko(fp, (off_t)(BL_CLKBIN_HEADER_BYTES + (uint64_t)first * rec), SEEK_SET) != 0)
        return bl_error_set(err, BL_EIO, "%s: cannot seek to record %zu: %s", path, first,
                            strerror(errno));
    for (size_t i = first; i < last; i++) {
        bl_status st = read_exact(fp, recbuf, rec, path, "records", NULL, err);
        if (st != BL_OK)
            return st;
        int bad = 0;
        for (uint32_t b = nbytes; b < rec; b++)
            bad |= recbuf[b];
        if (nbits % 8)
            bad |= recbuf[nbytes - 1] & (0xFFu >> (nbits % 8));
        if (bad)
            return bl_error_set(err, BL_EINPUT, "%s: record %zu has bits set beyond %u", path, i,
                                nbits);
        uint8_t *dst = s->data + i * s->stride;
        memcpy(dst, recbuf, nbytes);
        memset(dst + nbytes, 0, s->stride - nbytes);
    }
    return BL_OK;
}

/* past the records and (walking their lengths) the ids to the metadata */
static bl_status skip_to_meta(const char *path, FILE *fp, uint64_t count, uint32_t rec,
                              uint32_t flags, bl_error *err)
{
    if (fseeko(fp, (off_t)(BL_CLKBIN_HEADER_BYTES + count * rec), SEEK_SET) != 0)
        return bl_error_set(err, BL_EIO, "%s: cannot seek past the records: %s", path,
                            strerror(errno));
    char idbuf[BL_CLK_MAX_ID_BYTES];
    for (uint64_t i = 0; (flags & FLAG_IDS) && i < count; i++) {
        uint8_t lb[4];
        bl_status st = read_exact(fp, lb, 4, path, "record ids", NULL, err);
        uint32_t len = st == BL_OK ? bli_load_le32(lb) : 0;
        if (st == BL_OK && len > BL_CLK_MAX_ID_BYTES)
            st = bl_error_set(err, BL_EINPUT, "%s: id of record %llu is %u bytes (max %u)", path,
                              (unsigned long long)i, len, BL_CLK_MAX_ID_BYTES);
        if (st == BL_OK)
            st = read_exact(fp, idbuf, len, path, "record ids", NULL, err);
        if (st != BL_OK)
            return st;
    }
    return BL_OK;
}

static bl_status read_rows_bin(const char *path, FILE *fp, size_t first, size_t last,
                               bl_clkset **out, bl_error *err)
{
    uint8_t hdr[BL_CLKBIN_HEADER_BYTES];
    bl_status st = read_exact(fp, hdr, sizeof hdr, path, "the header", NULL, err);
    if (st == BL_OK)
        st = check_bin_header(path, fp, hdr, 0, err);
    if (st != BL_OK)
        return st;
    uint32_t nbits = bli_load_le32(hdr + 12), rec = bli_load_le32(hdr + 24);
    uint32_t flags = bli_load_le32(hdr + 28);
    uint64_t count = bli_load_le64(hdr + 16);
    if (last == SIZE_MAX) /* to the end of the file */
        last = (size_t)count;
    if (first > last || last > count)
        return bl_error_set(err, BL_EINVAL, "%s: records [%zu, %zu) outside the file's %llu", path,
                            first, last, (unsigned long long)count);
    bl_clkset *s = NULL;
    st = bl_clkset_new(nbits, (size_t)count, &s, err);
    if (st != BL_OK)
        return st;
    s->count = (size_t)count;
    header_fingerprint(s, hdr);
    st = read_rows_at(path, fp, s, first, last, rec, err);
    if (st == BL_OK && (flags & FLAG_META))
        st = skip_to_meta(path, fp, count, rec, flags, err);
    if (st == BL_OK && (flags & FLAG_META))
        st = read_meta(path, fp, s, NULL, err);
    if (st != BL_OK) {
        bl_clkset_free(s);
        return st;
    }
    *out = s;
    return BL_OK;
}

bl_status bl_clkset_read_rows(const char *path, size_t first, size_t last, bl_clkset **out,
                              bl_error *err)
{
    *out = NULL;
    FILE *fp;
    int is_bin;
    bl_status st = open_sniff(path, &fp, &is_bin, err);
    if (st != BL_OK)
        return st;
    if (!is_bin) {
        fclose(fp); /* JSON has no fixed-size rows: read it whole */
        return bl_clkset_read(path, BL_CLK_AUTO, 0, out, err);
    }
    st = read_rows_bin(path, fp, first, last, out, err);
    fclose(fp);
    return st;
}

/* ---- writing ------------------------------------------------------------------- */

struct bl_clkwriter {
    bl_ofile *of;
    FILE *fp;
    FILE *ids; /* binary: ids spooled here until commit */
    bl_clk_format fmt;
    uint32_t nbits, nbytes, rec;
    uint64_t count;
    int with_ids;
    uint8_t fingerprint[BL_FINGERPRINT_BYTES];
    char *meta; /* canonical metadata JSON (binary only), or NULL */
    char *b64;
    uint8_t *pad;
    const char *path;
};

bl_status bl_clkwriter_open(const char *path, bl_clk_format fmt, uint32_t nbits,
                            const uint8_t *fingerprint, int with_ids, bl_clkwriter **out,
                            bl_error *err)
{
    *out = NULL;
    if (bl_init() != BL_OK)
        return bl_error_set(err, BL_ECRYPTO, "cannot initialise libsodium");
    if (nbits == 0 || nbits > BL_CLK_MAX_BITS)
        return bl_error_set(err, BL_EINVAL, "filter length %u bits is outside 1..%u", nbits,
                            BL_CLK_MAX_BITS);
    if (fmt == BL_CLK_AUTO)
        fmt = BL_CLK_JSON;
    if (fmt == BL_CLK_BIN && !strcmp(path, "-"))
        return bl_error_set(err, BL_EINVAL, "the binary format needs an output file, not stdout");
    bl_clkwriter *w = calloc(1, sizeof *w);
    if (!w)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    w->fmt = fmt;
    w->nbits = nbits;
    w->nbytes = (nbits + 7) / 8;
    w->rec = disk_record_bytes(w->nbytes);
    w->with_ids = fmt == BL_CLK_BIN && with_ids;
    if (fingerprint)
        memcpy(w->fingerprint, fingerprint, BL_FINGERPRINT_BYTES);
    w->b64 = malloc(bl_base64_encoded_len(w->nbytes) + 1);
    w->pad = calloc(1, w->rec);
    if (!w->b64 || !w->pad) {
        bl_clkwriter_abort(w);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if (w->with_ids && !(w->ids = tmpfile())) {
        bl_clkwriter_abort(w);
        return bl_error_set(err, BL_EIO, "cannot create a temporary file: %s", strerror(errno));
    }
    bl_status st = bl_ofile_open(path, &w->of, err);
    if (st != BL_OK) {
        bl_clkwriter_abort(w);
        return st;
    }
    w->fp = bl_ofile_stream(w->of);
    int ok;
    if (fmt == BL_CLK_JSON)
        ok = fputs("{\"clks\": [", w->fp) >= 0;
    else
        ok = fseek(w->fp, BL_CLKBIN_HEADER_BYTES, SEEK_SET) == 0; /* header written at commit */
    if (!ok) {
        bl_clkwriter_abort(w);
        return bl_error_set(err, BL_EIO, "%s: write error", path);
    }
    *out = w;
    return BL_OK;
}

bl_status bl_clkwriter_set_meta(bl_clkwriter *w, const char *json, bl_error *err)
{
    char *m = NULL;
    bl_status st = canon_meta(json, json ? strlen(json) : 0, &m, err);
    if (st != BL_OK)
        return st;
    free(w->meta);
    w->meta = m;
    return BL_OK;
}

bl_status bl_clkwriter_put(bl_clkwriter *w, const uint8_t *bytes, const char *id, bl_error *err)
{
    int ok;
    if (w->fmt == BL_CLK_JSON) {
        bl_base64_encode(bytes, w->nbytes, w->b64);
        ok = (w->count ? fputs(", \"", w->fp) : fputs("\"", w->fp)) >= 0 &&
             fputs(w->b64, w->fp) >= 0 && fputc('"', w->fp) != EOF;
    } else {
        memcpy(w->pad, bytes, w->nbytes);
        if (w->nbits % 8)
            w->pad[w->nbytes - 1] &= (uint8_t)(0xFFu << (8 - w->nbits % 8));
        ok = fwrite(w->pad, 1, w->rec, w->fp) == w->rec;
        if (ok && w->with_ids) {
            size_t len = id ? strlen(id) : 0;
            if (len > BL_CLK_MAX_ID_BYTES)
                return bl_error_set(err, BL_EINPUT, "record id longer than %u bytes",
                                    BL_CLK_MAX_ID_BYTES);
            bl_status st = len ? check_id(id, len, NULL, w->count, err) : BL_OK;
            if (st != BL_OK)
                return st;
            uint8_t lb[4];
            bli_store_le32(lb, (uint32_t)len);
            ok = fwrite(lb, 1, 4, w->ids) == 4 && (len == 0 || fwrite(id, 1, len, w->ids) == len);
        }
    }
    if (!ok)
        return bl_error_set(err, BL_EIO, "write error: %s", strerror(errno));
    w->count++;
    return BL_OK;
}

static void make_header(const bl_clkwriter *w, uint8_t *hdr)
{
    memset(hdr, 0, BL_CLKBIN_HEADER_BYTES);
    memcpy(hdr, BL_CLKBIN_MAGIC, 8);
    bli_store_le32(hdr + 8, BL_CLKBIN_VERSION);
    bli_store_le32(hdr + 12, w->nbits);
    bli_store_le64(hdr + 16, w->count);
    bli_store_le32(hdr + 24, w->rec);
    bli_store_le32(hdr + 28, FLAG_CHECKSUM | (w->with_ids ? FLAG_IDS : 0) |
                                (w->fmt == BL_CLK_BIN && w->meta ? FLAG_META : 0));
    memcpy(hdr + 32, w->fingerprint, BL_FINGERPRINT_BYTES);
}

/* Append the spooled ids, then hash header+body and append the checksum. */
static bl_status finish_bin(bl_clkwriter *w, bl_error *err)
{
    uint8_t buf[65536];
    if (w->with_ids) {
        rewind(w->ids);
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, w->ids)) > 0)
            if (fwrite(buf, 1, n, w->fp) != n)
                return bl_error_set(err, BL_EIO, "write error: %s", strerror(errno));
        if (ferror(w->ids))
            return bl_error_set(err, BL_EIO, "read error on temporary file");
    }
    if (w->meta) {
        size_t len = strlen(w->meta);
        uint8_t lb[4];
        bli_store_le32(lb, (uint32_t)len);
        if (fwrite(lb, 1, 4, w->fp) != 4 || fwrite(w->meta, 1, len, w->fp) != len)
            return bl_error_set(err, BL_EIO, "write error: %s", strerror(errno));
    }
    uint8_t hdr[BL_CLKBIN_HEADER_BYTES];
    make_header(w, hdr);
    if (fflush(w->fp) != 0 || fseek(w->fp, 0, SEEK_SET) != 0 ||
        fwrite(hdr, 1, sizeof hdr, w->fp) != sizeof hdr || fflush(w->fp) != 0)
        return bl_error_set(err, BL_EIO, "write error: %s", strerror(errno));
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, BL_FINGERPRINT_BYTES);
    if (fseek(w->fp, 0, SEEK_SET) != 0)
        return bl_error_set(err, BL_EIO, "seek error: %s", strerror(errno));
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, w->fp)) > 0)
        crypto_generichash_update(&h, buf, n);
    if (ferror(w->fp))
        return bl_error_set(err, BL_EIO, "read-back error: %s", strerror(errno));
    uint8_t sum[BL_FINGERPRINT_BYTES];
    crypto_generichash_final(&h, sum, sizeof sum);
    if (fseek(w->fp, 0, SEEK_END) != 0 || fwrite(sum, 1, sizeof sum, w->fp) != sizeof sum)
        return bl_error_set(err, BL_EIO, "write error: %s", strerror(errno));
    return BL_OK;
}

bl_status bl_clkwriter_commit(bl_clkwriter *w, bl_error *err)
{
    bl_status st = BL_OK;
    if (w->fmt == BL_CLK_JSON) {
        if (fputs("]}", w->fp) < 0)
            st = bl_error_set(err, BL_EIO, "write error: %s", strerror(errno));
    } else {
        st = finish_bin(w, err);
    }
    if (st == BL_OK) {
        bl_ofile *of = w->of;
        w->of = NULL;
        st = bl_ofile_commit(of, err);
    }
    bl_clkwriter_abort(w);
    return st;
}

void bl_clkwriter_abort(bl_clkwriter *w)
{
    if (!w)
        return;
    bl_ofile_abort(w->of);
    if (w->ids)
        fclose(w->ids);
    free(w->b64);
    free(w->pad);
    free(w->meta);
    free(w);
}

bl_status bl_clkset_write(const bl_clkset *s, const char *path, bl_clk_format fmt, int with_ids,
                          bl_error *err)
{
    bl_clkwriter *w = NULL;
    bl_status st = bl_clkwriter_open(path, fmt, s->nbits, s->has_fingerprint ? s->fingerprint : NULL,
                                     with_ids && s->ids, &w, err);
    if (st != BL_OK)
        return st;
    if (s->meta)
        st = bl_clkwriter_set_meta(w, s->meta, err);
    for (size_t i = 0; i < s->count && st == BL_OK; i++)
        st = bl_clkwriter_put(w, bl_clkset_get(s, i), s->ids ? s->ids[i] : NULL, err);
    if (st != BL_OK) {
        bl_clkwriter_abort(w);
        return st;
    }
    return bl_clkwriter_commit(w, err);
}
