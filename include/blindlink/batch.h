/* blindlink/batch.h - many records per call, for bindings and embedders.
 *
 * A language binding (python/blindlink) pays a fixed cost for every call
 * into the library; these entry points take whole arrays so that encoding
 * records held in memory, or loading filters that are already in memory,
 * costs one call instead of one per record. */
#ifndef BLINDLINK_BATCH_H
#define BLINDLINK_BATCH_H

#include "common.h"
#include "clk.h"
#include "encode.h"

BL_BEGIN_DECLS

/** Append `n` filters to `s` from one buffer: filter i is the
 *  ceil(nbits/8) bytes at `bytes + i * step` (MSB-first, as in the files;
 *  pad bits past nbits are cleared). No ids. On failure the set keeps the
 *  filters appended before the failing one. */
bl_status bl_clkset_append_packed(bl_clkset *s, const uint8_t *bytes, size_t n, size_t step,
                                  bl_error *err) BL_WUR;

/** Encode `nrows` records held in memory with `threads` threads (0 = all
 *  cores). `cells`/`lens` hold nrows x nfields UTF-8 cells row by row
 *  (nfields = the schema's feature count, ignored features included).
 *  Record r is written to `out + r * out_stride` (bl_encoder_nbytes bytes);
 *  `popcounts` (may be NULL) receives nrows popcounts. On bad data returns
 *  BL_EINPUT for the first failing record, with the message prefixed by
 *  "record R: " (0-based), and its index in `*bad_record` (may be NULL). */
bl_status bl_encoder_encode_batch(const bl_encoder *e, const char *const *cells,
                                  const size_t *lens, size_t nfields, size_t nrows, int threads,
                                  uint8_t *out, size_t out_stride, uint32_t *popcounts,
                                  size_t *bad_record, bl_error *err) BL_WUR;

BL_END_DECLS
#endif
