/* Fuzz target for the PNG decoder (formats/png.c, libpng) alone: palettes with tRNS, gray and
 * RGB with alpha, 1- to 16-bit samples, Adam7 interlacing, eXIf orientation, CRC and zlib
 * errors. Inputs are decoded with and without the orientation applied; decoder_check.h says
 * what is checked. fuzz_image drives the same decoder through the registry.
 * A chunk declaring more bytes than the file holds (libpng would allocate it first) is
 * refused by formats/png.c; corpus/png/crash-exif-*-654mb-malloc are the inputs that found it. */
#include "decoder_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const fuzz_decoder d = {"png", es__png_probe, es__png_decode, 0, 1};
  static const es_decode_opts opts[] = {
    {.scale_denom = 1},
    {.scale_denom = 4, .keep_orientation = 1}, /* PNG ignores the scale */
  };
  return fuzz_decoder_run(&d, data, size, opts, sizeof opts / sizeof opts[0]);
}
