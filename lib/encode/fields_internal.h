/* lib/encode/fields_internal.h - field-level layout (lib/encode/fields.c),
 * shared by the schema parser (extension check) and the encoder. */
#ifndef BLINDLINK_FIELDS_INTERNAL_H
#define BLINDLINK_FIELDS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <blindlink/encode.h>

#include "encode/schema_internal.h"

/** Where each feature's bits go in a field-level record. */
typedef struct bl_field_layout {
    size_t nfields;
    char **names;        /* field names (feature identifier or group name) */
    size_t *field_of;    /* per schema feature: field index, SIZE_MAX = ignored */
    uint32_t *offset;    /* per field: first bit (multiple of 512) */
    uint32_t field_bits; /* bits per field filter as written (schema l, or the hardened length) */
    uint32_t total_bits; /* record length: end of the last field */
    char *meta;          /* metadata JSON ({"layout":"fields",...}) */
} bl_field_layout;

/** Validate the schema extension object `$.blindlink` against the parsed
 *  features. 0, or -1 with the JSON path and the problem. */
int bl_fields_check_ext(const json_t *ext, const bl_schema *s, char *path, size_t pcap, char *msg,
                        size_t mcap);

/** The layout of `s`: fields of `out_bits` bits each as written (0: the
 *  schema's l; hardening may double or halve it), 512-bit aligned. */
bl_status bl_field_layout_build(const bl_schema *s, bl_normalize_profile norm, uint32_t out_bits,
                                bl_field_layout *fl, bl_error *err);
void bl_field_layout_free(bl_field_layout *fl);

/** The given-name and surname features that share the given name's keys in
 *  the field layout (each alone in its field, same hash): 1 and their
 *  feature indices, or 0 when the schema has no such pair. */
int bl_fields_name_pair(const bl_schema *s, size_t *given, size_t *family);

/** OR an nbits-bit packed filter into `out` at bit offset `offset_bits`
 *  (a multiple of 8). */
void bl_field_or_into(uint8_t *out, uint32_t offset_bits, const uint8_t *filter, uint32_t nbits);

/** For `schema describe`: the field layout and a warning for every
 *  low-entropy feature (exact comparison, enum, or a single short token) that
 *  would sit alone in a field filter, whose bits then reveal the value
 *  distribution (docs/threat-model.md). */
void bl_fields_describe(const bl_schema *s, FILE *fp);

#endif
