/* blindlink.h - umbrella header: include this to get the whole public API. */
#ifndef BLINDLINK_H
#define BLINDLINK_H
#include <blindlink/common.h>
#include <blindlink/csv.h>
#include <blindlink/io.h>
#include <blindlink/clk.h>
#include <blindlink/match.h>
#include <blindlink/eval.h>
#include <blindlink/schema.h>
#include <blindlink/encode.h>
#include <blindlink/ident.h>
#include <blindlink/psi.h>
#include <blindlink/synth.h>
#include <blindlink/batch.h>
#include <blindlink/plot.h>
#include <blindlink/model.h>
#include <blindlink/attack.h>
#include <blindlink/chat.h>
#endif
