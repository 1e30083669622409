/* blindlink/ident.h - normalisation of exact identifiers before private set
 * intersection: email addresses, phone numbers (to E.164) and a composite
 * name + date-of-birth key.
 *
 * Exact matching is only as good as the normalisation both parties apply, so
 * each normaliser is strict: a value that cannot be brought into canonical
 * form is rejected with a reason (the caller reports the record), never
 * guessed. Empty or whitespace-only input is "missing" (BL_OK, length 0). */
#ifndef BLINDLINK_IDENT_H
#define BLINDLINK_IDENT_H

#include "common.h"

BL_BEGIN_DECLS

/** Largest normalised identifier (bytes, without the NUL). */
#define BL_IDENT_MAX 1024

/** Identifier types; the numeric value is part of the PSI wire format. */
typedef enum bl_ident_type {
    BL_IDENT_EMAIL = 1,   /**< email address */
    BL_IDENT_PHONE = 2,   /**< phone number, E.164 */
    BL_IDENT_NAMEDOB = 3  /**< name parts + date of birth, one composite key */
} bl_ident_type;

/** Email rule flags (bl_ident_opts.email_rules). */
#define BL_EMAIL_GMAIL 1u /**< gmail.com/googlemail.com: drop dots and +suffix in the
                               local part, googlemail.com -> gmail.com */
#define BL_EMAIL_PLUS 2u  /**< every domain: drop a "+suffix" from the local part */

/** Name rule flags (bl_ident_opts.name_rules). */
#define BL_NAME_STRIP_MARKS 1u /**< remove combining marks after decomposition ("José" -> "jose") */

/** Options of the normalisers; zero-initialise then set what you need. */
typedef struct bl_ident_opts {
    unsigned email_rules;     /**< BL_EMAIL_* flags */
    char phone_country[3];    /**< ISO 3166 alpha-2 default country for national numbers
                                   ("" means only international numbers are accepted) */
    const char *dob_format;   /**< date format with %Y %m %d (%y not accepted) and literal
                                   characters; NULL means "%Y-%m-%d" */
    unsigned name_rules;      /**< BL_NAME_* flags */
} bl_ident_opts;

/** Name of a type ("email", "phone", "namedob"); "?" for unknown values. */
const char *bl_ident_type_name(bl_ident_type t);

/** Parse a type name; returns 0 for an unknown name. */
bl_ident_type bl_ident_type_parse(const char *name);

/** Normalise an email: trim, Unicode NFKC + case fold, validate the shape
 *  local@domain (one '@', no spaces/controls, domain labels of letters,
 *  digits, '-' or non-ASCII), then apply the provider rules. Writes a
 *  NUL-terminated result to `out` (`cap` >= BL_IDENT_MAX + 1) and its length
 *  to `*outlen` (0 = missing). BL_EINPUT with the rule in err on rejection. */
bl_status bl_ident_email(const char *in, size_t len, unsigned rules, char *out, size_t cap,
                         size_t *outlen, bl_error *err) BL_WUR;

/** Normalise a phone number to E.164 ("+441632960961"). Accepts "+CC...",
 *  "00CC..." (and "011" for NANP defaults), or a national number with the
 *  country's trunk prefix, separators " -./()" and an optional "tel:".
 *  Validates the calling code against the built-in table, the length
 *  (E.164: at most 15 digits) and NANP's 10-digit plan. */
bl_status bl_ident_phone(const char *in, size_t len, const char *default_country, char *out,
                         size_t cap, size_t *outlen, bl_error *err) BL_WUR;

/** Normalise one name part: NFKC, case fold, optional mark stripping,
 *  whitespace runs collapsed to one space, trimmed; control characters are
 *  rejected. */
bl_status bl_ident_name(const char *in, size_t len, unsigned rules, char *out, size_t cap,
                        size_t *outlen, bl_error *err) BL_WUR;

/** Parse a date with `format` (see bl_ident_opts.dob_format; %m and %d also
 *  accept one digit) and write the canonical "YYYY-MM-DD". Rejects impossible
 *  calendar dates and years outside 1800..2200. */
bl_status bl_ident_date(const char *in, size_t len, const char *format, char *out, size_t cap,
                        size_t *outlen, bl_error *err) BL_WUR;

/** Build the composite key "name1 US name2 ... US YYYY-MM-DD" (US = 0x1f)
 *  from `nparts` name parts and a date. All empty = missing (length 0);
 *  some but not all empty = BL_EINPUT naming the empty part index. */
bl_status bl_ident_namedob(const char *const *parts, const size_t *lens, size_t nparts,
                           const char *dob, size_t dob_len, const bl_ident_opts *opts, char *out,
                           size_t cap, size_t *outlen, bl_error *err) BL_WUR;

/** Calling code of an ISO 3166 alpha-2 country (case-insensitive), e.g.
 *  "GB" -> 44; 0 when unknown. */
unsigned bl_ident_calling_code(const char *country);

BL_END_DECLS
#endif
