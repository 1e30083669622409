/* lib/psi/psi_int.h - internal: the loaded PSI input shared by the loader
 * (lib/psi/input.c) and the protocol (lib/psi/psi.c). */
#ifndef BLINDLINK_PSI_INT_H
#define BLINDLINK_PSI_INT_H

#include <stdint.h>

#include <blindlink/psi.h>

/** Slot offset meaning "no value": sent as a random dummy point. */
#define PSI_NO_SLOT UINT64_MAX

struct bl_psi_input {
    char *path;             /* re-read to write the matched row ids */
    char *id_column;
    int id_col;             /* -1: 1-based data row number */
    bl_csv_opts csv;
    size_t k;               /* identifier slots per record */
    bl_ident_type types[BL_PSI_MAX_TYPES];
    uint32_t email_rules;
    uint64_t n, gcap;       /* records with at least one usable identifier */
    uint64_t *row;          /* n: 0-based data row of each record, ascending */
    uint64_t *slot;         /* n*k: arena offsets or PSI_NO_SLOT */
    char *arena;            /* entries: u16 LE length, bytes */
    size_t alen, acap;
    bl_psi_input_stats st;
    int used;               /* bl_psi_run consumed it (one session per input) */
};

#endif
