/* lib/encode/schema_internal.h - the parsed linkage schema model shared by the
 * schema parser, the describe/convert/fingerprint code and the encoder. */
#ifndef BLINDLINK_SCHEMA_INTERNAL_H
#define BLINDLINK_SCHEMA_INTERNAL_H

#include <blindlink/schema.h>

#include "encode/pystrptime.h"

/** Text encoding of a string feature's tokens. */
typedef enum bl_text_encoding {
    BL_TEXTENC_UTF8 = 0,
    BL_TEXTENC_ASCII,
    BL_TEXTENC_UTF16,
    BL_TEXTENC_UTF32
} bl_text_encoding;

typedef enum bl_case_rule { BL_CASE_MIXED = 0, BL_CASE_UPPER, BL_CASE_LOWER } bl_case_rule;

typedef enum bl_strategy { BL_STRATEGY_BITS_PER_TOKEN = 1, BL_STRATEGY_BITS_PER_FEATURE } bl_strategy;

typedef struct bl_feature {
    char *identifier;
    int ignored;

    /* format */
    bl_format_type fmt;
    bl_text_encoding encoding;      /* strings only; others hash as UTF-8 */
    bl_case_rule case_rule;
    int64_t min_length, max_length; /* -1 = none (code points) */
    char *pattern;                  /* string regex (fullmatch), or NULL */
    void *regex;                    /* pcre2_code_8 * */
    int has_minimum, has_maximum;
    int64_t minimum, maximum;
    char *date_format;
    bl_pydate_fmt *date;            /* compiled strptime format */
    char **values;                  /* enum */
    size_t *value_lens;
    size_t nvalues;

    /* hashing */
    bl_comparison cmp;
    uint32_t n;                     /* ngram n */
    int positional;
    double threshold;               /* numeric */
    uint32_t resolution;
    uint32_t frac_precision;
    int64_t distance;               /* D = round(T * 10^p) */
    bl_strategy strategy;
    uint32_t k;                     /* bits per token or per feature */
    bl_hash_type hash;
    int prevent_singularity;        /* -1 unset, 0, 1 */
    int has_missing;
    char *sentinel;
    size_t sentinel_len;
    char *replace_with;             /* == sentinel copy when absent */
    size_t replace_len;
    int has_replace;
} bl_feature;

struct bl_schema {
    int version;
    uint32_t l;
    uint32_t folds;
    int kdf_sha512;                 /* 0: SHA256, 1: SHA512 */
    uint8_t *salt;                  /* NULL = absent */
    size_t salt_len;
    uint8_t *info;                  /* NULL = absent */
    size_t info_len;
    uint32_t key_size;
    bl_feature *features;
    size_t nfeatures;
    char **warnings;
    size_t nwarnings;
    char *v3_json;                  /* v3 serialisation (convert output) */
    char *ext_json;                 /* blindlink extension object "$.blindlink" (fieldGroups), or NULL */
};

/** Hashing length before folding: l * 2^folds. */
static inline uint32_t bli_schema_hash_len(const bl_schema *s)
{
    return s->l << s->folds;
}

#endif
