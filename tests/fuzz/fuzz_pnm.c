/* Fuzz target for the PNM decoder (formats/pnm.c) alone: P5 (gray) and P6 (RGB) with 8- and
 * 16-bit samples, any maxval, comments and white space in the header, and the other magic
 * numbers (P1-P4, P7) it must refuse. decoder_check.h says what is checked. */
#include "decoder_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const fuzz_decoder d = {"pnm", es__pnm_probe, es__pnm_decode, 0, 0};
  static const es_decode_opts opts[] = {{.scale_denom = 1}};
  return fuzz_decoder_run(&d, data, size, opts, sizeof opts / sizeof opts[0]);
}
