/* Fuzz target for the JPEG decoder (formats/jpeg.c, libjpeg-turbo) alone: baseline and
 * progressive, every chroma subsampling, gray, RGB, CMYK and YCCK, restart markers, APP1 EXIF
 * orientation, truncation. Each input is decoded at full size with the defaults, at 1/8 and
 * 1/2 with the DCT scaling, and with the options edgeset.json can set (no fancy upsampling,
 * float DCT) and the orientation kept; decoder_check.h says what is checked. */
#include "decoder_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const fuzz_decoder d = {"jpeg", es__jpeg_probe, es__jpeg_decode, 1, 0};
  static const es_decode_opts opts[] = {
    {.scale_denom = 1},
    {.scale_denom = 8},
    {.scale_denom = 2, .keep_orientation = 1, .jpeg_no_fancy_upsampling = 1,
     .jpeg_dct_float = 1},
  };
  return fuzz_decoder_run(&d, data, size, opts, sizeof opts / sizeof opts[0]);
}
