#include "attack/attack_internal.h"
bl_status atk_pattern(atk_ctx *c, bl_attack_guess **g, size_t *ng, bl_error *err)
{ (void)c; (void)err; *g = NULL; *ng = 0; return BL_OK; }
