/* lib/encode/harden_internal.h - hardening steps applied by the encoder
 * after a record's Bloom filter is built (harden.c, docs/attacks.md). */
#ifndef BLINDLINK_HARDEN_INTERNAL_H
#define BLINDLINK_HARDEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <blindlink/common.h>
#include <blindlink/schema.h>

/** Longest canonical profile string. */
#define BL_HARDEN_CANON_MAX 160

/** A parsed profile (no key material). */
typedef struct bl_harden_spec {
    int salt_feature;      /**< feature index of the salt field, -1 none */
    char salt_name[64];    /**< its identifier */
    int xor_fold;          /**< 1: fold the filter once (l -> l/2) */
    double blip;           /**< BLIP flip probability, 0 = off */
    int balance;           /**< 1: append the complement, keyed permutation */
    uint32_t diffuse;      /**< diffusion: XOR of this many bits per output bit, 0 = off */
    char canon[BL_HARDEN_CANON_MAX]; /**< canonical text ("" = none) */
} bl_harden_spec;

/** Parse `profile` ("none", "recommended", or comma-separated steps
 *  salt=FIELD, xor, blip=P, balance, diffuse=T) against `schema`;
 *  `fields` 1: for the field-level layout (what "recommended" means). */
bl_status bl_harden_parse(const char *profile, const bl_schema *schema, int fields, bl_harden_spec *out,
                          bl_error *err) BL_WUR;

/** Keyed hardening state: the spec, a key derived from the secret, the
 *  balancing permutation and the diffusion taps. Guarded memory. */
typedef struct bl_hardener bl_hardener;

/** Build the state for filters of `inbits` bits (after folding). `field`
 *  NULL: the record-level key; else the name of a field of the field-level
 *  layout, which gets a key (permutation, taps, BLIP stream) of its own. */
bl_status bl_hardener_new(const bl_harden_spec *spec, const uint8_t *secret, size_t secret_len,
                          uint32_t inbits, const char *field, bl_hardener **out, bl_error *err) BL_WUR;
void bl_hardener_free(bl_hardener *h);

/** Bits of a hardened filter. */
uint32_t bl_hardener_outbits(const bl_hardener *h);

/** Bytes of work memory bl_hardener_apply needs. */
size_t bl_hardener_work_bytes(const bl_hardener *h);

/** Bytes of a record digest (bl_hardener_record_digest). */
#define BL_HARDEN_RECORD_BYTES 32

/** Digest of a whole record's cells (length-prefixed), part of BLIP's seed. */
void bl_hardener_record_digest(const char *const *fields, const size_t *lens, size_t n,
                               uint8_t out[BL_HARDEN_RECORD_BYTES]);

/** Harden one filter: `in` (inbits, MSB-first, pad bits zero) -> `out`
 *  (outbits, pad bits zero). `work` holds bl_hardener_work_bytes bytes;
 *  `rec` is the record digest. */
void bl_hardener_apply(const bl_hardener *h, const uint8_t *in, uint8_t *out, uint8_t *work, const uint8_t *rec);

/** The spec the hardener was built from. */
const bl_harden_spec *bl_hardener_spec(const bl_hardener *h);

#endif
