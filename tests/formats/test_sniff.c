/* Format sniffing by magic bytes, the registry's dispatch and its messages for unsupported and
 * unknown data, and the PNM decoder (P5/P6, 8 and 16 bits). */
#include <criterion/criterion.h>
#include <string.h>

#include "formats/decode.h"
#include "testutil.h"

static const char *sniff(const char *bytes, size_t n)
{
  return es_format_sniff((const uint8_t *)bytes, n);
}

#define SNIFF(lit) sniff(lit, sizeof lit - 1)

Test(sniff, magic_bytes)
{
  cr_assert_str_eq(SNIFF("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "png");
  cr_assert_str_eq(SNIFF("\xff\xd8\xff\xe0\0\x10JFIF"), "jpeg");
  cr_assert_str_eq(SNIFF("P5\n2 2\n255\n"), "pnm");
  cr_assert_str_eq(SNIFF("P6 2 2 255 "), "pnm");
  cr_assert_str_eq(SNIFF("P4\n8 1\n"), "pnm");
  cr_assert_str_eq(SNIFF("GIF89a\x01\0\x01\0"), "gif");
  cr_assert_str_eq(SNIFF("GIF87a\x01\0\x01\0"), "gif");
  cr_assert_str_eq(SNIFF("BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"), "bmp");
  cr_assert_str_eq(SNIFF("II*\0\x08\0\0\0"), "tiff");
  cr_assert_str_eq(SNIFF("MM\0*\0\0\0\x08"), "tiff");
  cr_assert_str_eq(SNIFF("RIFF\x24\0\0\0WEBPVP8 "), "webp");
  cr_assert_str_eq(SNIFF("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic"), "heic");
  cr_assert_str_eq(SNIFF("\0\0\0\x1c" "ftypavif\0\0\0\0avifmif1miaf"), "avif");
  cr_assert_str_eq(SNIFF("\0\0\0\x18" "ftypmif1\0\0\0\0mif1avif"), "avif");
  cr_assert_str_eq(SNIFF("\0\0\0\x14" "ftypmif1\0\0\0\0mif1"), "heif");
  cr_assert_str_eq(SNIFF("\0\0\0\x14" "ftypisom\0\0\x02\0isom"), "mp4");
  cr_assert_str_eq(SNIFF("\0\0\0\x0cjP  \r\n\x87\n"), "jpeg2000");
  cr_assert_str_eq(SNIFF("\xff\x4f\xff\x51\0\x2f"), "jpeg2000");
  cr_assert_str_eq(SNIFF("\xff\x0a\xfa"), "jpegxl");
  cr_assert_str_eq(SNIFF("\0\0\0\x0cJXL \r\n\x87\n"), "jpegxl");
  cr_assert_str_eq(SNIFF("\0\0\1\0\1\0\x10\x10"), "ico");
  cr_assert_str_eq(SNIFF("8BPS\0\1"), "psd");
  cr_assert_str_eq(SNIFF("%PDF-1.7\n"), "pdf");
  cr_assert_str_eq(SNIFF("PK\3\4\x14\0"), "zip");
  cr_assert_str_eq(SNIFF("\x1f\x8b\x08\0"), "gzip");
  cr_assert_str_eq(SNIFF("\xef\xbb\xbf  {\"a\": 1}"), "json");
  cr_assert_str_eq(SNIFF("<?xml version=\"1.0\"?><svg>"), "svg");
  cr_assert_str_eq(SNIFF("<!DOCTYPE html><html>"), "html");
  cr_assert_null(SNIFF("hello world"));
  cr_assert_null(SNIFF("BM not a bitmap"));
  cr_assert_null(SNIFF("P8\n"));
  cr_assert_null(sniff("", 0));
  cr_assert_null(es_format_sniff(NULL, 0));
}

/* The extension never matters: the same bytes are the same format whatever they are called,
 * and sniffing a short prefix of a signature does not read past the end. */
Test(sniff, short_prefixes)
{
  const char png[] = "\x89PNG\r\n\x1a\n";
  for (size_t n = 0; n < 8; n++)
    cr_assert(sniff(png, n) == NULL || strcmp(sniff(png, n), "png") != 0 || n >= 8);
  cr_assert_null(sniff("\xff\xd8", 2));
}

Test(sniff, supported)
{
  cr_assert(es_format_supported("png"));
  cr_assert(es_format_supported("jpeg"));
  cr_assert(es_format_supported("pnm"));
  cr_assert_not(es_format_supported("gif"));
  cr_assert_not(es_format_supported("webp"));
  cr_assert_not(es_format_supported("nonsense"));
  cr_assert_not(es_format_supported(NULL));
}

/* Decoding gives code and msg; probing (header only) gives probe_code. */
static void expect_probe(const char *bytes, size_t n, int code, const char *msg, int probe_code)
{
  es_image img;
  es_image_info info;
  es_error err = {0};
  cr_assert_eq(es_image_decode((const uint8_t *)bytes, n, NULL, &img, &info, &err), code, "%s",
               err.msg);
  cr_assert_str_eq(err.msg, msg);
  cr_assert_null(img.data);
  cr_assert_eq(es_image_probe((const uint8_t *)bytes, n, NULL, &info, &err), probe_code);
}

#define EXPECT(lit, code, msg) expect_probe(lit, sizeof lit - 1, code, msg, code)
#define EXPECT_DATA(lit, code, msg) expect_probe(lit, sizeof lit - 1, code, msg, ES_OK)

Test(sniff, unsupported_and_unknown_messages)
{
  EXPECT("GIF89a\x01\0\x01\0", ES_EUNSUPPORTED, "unsupported format: GIF");
  EXPECT("RIFF\x24\0\0\0WEBPVP8 ", ES_EUNSUPPORTED, "unsupported format: WebP");
  EXPECT("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", ES_EUNSUPPORTED, "unsupported format: HEIC");
  EXPECT("MM\0*\0\0\0\x08", ES_EUNSUPPORTED, "unsupported format: TIFF");
  EXPECT("%PDF-1.7\n", ES_EUNSUPPORTED, "unsupported format: PDF");
  EXPECT("hello world", ES_EUNSUPPORTED,
         "unknown format (not an image): starts with 68 65 6c 6c 6f 20 77 6f");
  EXPECT("\x01", ES_EUNSUPPORTED, "unknown format (not an image): starts with 01");
  EXPECT("", ES_EUNSUPPORTED, "unknown format (not an image): empty");
  EXPECT("P1\n1 1\n1\n", ES_EUNSUPPORTED,
         "unsupported PNM variant P1 (only binary P5 and P6 are decoded)");
}

Test(sniff, bad_scale_is_usage)
{
  es_decode_opts opts = {.scale_denom = 3};
  es_image img;
  es_error err;
  cr_assert_eq(es_image_decode((const uint8_t *)"P5 1 1 255 x", 12, &opts, &img, NULL, &err),
               ES_EUSAGE);
}

Test(pnm, gray_and_rgb_8_bit)
{
  static const char p5[] = "P5\n# a comment\n3 2\n255\n\x00\x10\x20\x30\x40\xff";
  es_image img;
  es_image_info info;
  es_error err;
  cr_assert_eq(es_image_decode((const uint8_t *)p5, sizeof p5 - 1, NULL, &img, &info, &err),
               ES_OK, "%s", err.msg);
  cr_assert_str_eq(info.format, "pnm");
  cr_assert(img.width == 3 && img.height == 2 && img.channels == 1);
  cr_assert_arr_eq(img.data, "\x00\x10\x20\x30\x40\xff", 6);
  es_image_free(&img);

  static const char p6[] = "P6 2 1 255\n\x01\x02\x03\x04\x05\x06";
  cr_assert_eq(es_image_decode((const uint8_t *)p6, sizeof p6 - 1, NULL, &img, &info, &err),
               ES_OK, "%s", err.msg);
  cr_assert(img.width == 2 && img.height == 1 && img.channels == 3);
  cr_assert_arr_eq(img.data, "\x01\x02\x03\x04\x05\x06", 6);
  es_image_free(&img);
}

/* Samples scale by round(v * 255 / maxval). */
Test(pnm, sixteen_bit_and_small_maxval)
{
  static const char p5[] = "P5 4 1 65535\n\x00\x00\x80\x00\xff\xff\x01\x00";
  es_image img;
  es_error err;
  cr_assert_eq(es_image_decode((const uint8_t *)p5, sizeof p5 - 1, NULL, &img, NULL, &err),
               ES_OK, "%s", err.msg);
  /* 0, 32768, 65535, 256 -> 0, 128, 255, 1 */
  cr_assert_arr_eq(img.data, "\x00\x80\xff\x01", 4);
  es_image_free(&img);
  static const char p5b[] = "P5 3 1 3\n\x00\x01\x03";
  cr_assert_eq(es_image_decode((const uint8_t *)p5b, sizeof p5b - 1, NULL, &img, NULL, &err),
               ES_OK, "%s", err.msg);
  cr_assert_arr_eq(img.data, "\x00\x55\xff", 3);
  es_image_free(&img);
}

Test(pnm, bad_files)
{
  EXPECT_DATA("P5 3 2 255\n\x01\x02", ES_EFORMAT, "truncated PNM (2 of 6 pixel bytes)");
  EXPECT("P5 3 2 0\n\x01\x02", ES_EFORMAT, "bad PNM header: maxval 0 (expected 1 to 65535)");
  EXPECT("P5 3 2 70000\n", ES_EFORMAT, "bad PNM header: maxval 70000 (expected 1 to 65535)");
  EXPECT("P5 3 x 255\n", ES_EFORMAT, "bad PNM header: height is not a number");
  EXPECT("P6 3 2", ES_EFORMAT, "truncated PNM header (no maxval)");
  EXPECT("P5 0 2 255\n", ES_EFORMAT, "image has zero size (0x2)");
  EXPECT_DATA("P5 1 1 10\n\x0b", ES_EFORMAT, "corrupt PNM: sample 11 above maxval 10");
  EXPECT("P6 20000 20000 255\n", ES_ELIMIT,
         "image is 20000x20000 (400 megapixels), above the limit of 100 megapixels");
  EXPECT("P5 99999999999 2 255\n", ES_EFORMAT, "bad PNM header: width is too large");
}
