#ifndef SURVEYCHARTS_CPNG_H
#define SURVEYCHARTS_CPNG_H

#include <stddef.h>
#include <stdint.h>

/// Encodes opaque 32-bit pixels (Cairo's CAIRO_FORMAT_RGB24: native-endian 0x00RRGGBB words) as an
/// 8-bit RGB PNG, into memory. No timestamps or text chunks are written, so equal pixels give
/// equal bytes.
///
/// `compression_level` is zlib's 0...9. `filter` is 0 for no row filter, 1 SUB, 2 UP, 3 SUB or UP,
/// 4 libpng's adaptive choice among all five. `strategy` is zlib's: 0 default, 1 Z_RLE,
/// 2 Z_FILTERED, 3 Z_HUFFMAN_ONLY.
///
/// On success returns 0 and sets `*out_bytes` (release with `surveycharts_png_free`) and
/// `*out_length`. On failure returns -1, writes a NUL-terminated message into `error_message`
/// and leaves nothing to free.
int surveycharts_png_encode_rgb24(
    const uint8_t *pixels, int width, int height, int stride,
    int compression_level, int filter, int strategy,
    uint8_t **out_bytes, size_t *out_length,
    char *error_message, size_t error_message_capacity);

/// Encodes the same input as `surveycharts_png_encode_rgb24`, several times faster, with a
/// deflate that only looks for the repeats charts are made of (runs of one colour, rows like the
/// one above) and codes them with dynamic Huffman tables.
///
/// With `palette_tolerance` >= 0 it first tries an 8-bit indexed PNG: every colour that fills a
/// flat area (a pixel whose four neighbours have its colour) keeps its exact value, and every other
/// colour (antialiased edges and text) maps to a palette entry at most `palette_tolerance` away on
/// each channel. When that needs more than 256 entries, or with -1, it writes 8-bit RGB, lossless.
/// `*out_indexed` says which was written. Same ownership and error rules.
int surveycharts_png_encode_fast(
    const uint8_t *pixels, int width, int height, int stride, int palette_tolerance,
    uint8_t **out_bytes, size_t *out_length, int *out_indexed,
    char *error_message, size_t error_message_capacity);

/// Decodes a PNG from memory into 8-bit RGB (3 bytes a pixel, rows without padding), through
/// libpng's simplified API (no setjmp). For tests and fuzzing: reading PNGs is not a job of the
/// service. Returns 0 and sets `*width` and `*height`, or -1 when the bytes are not a PNG or the
/// image needs more than `capacity` bytes.
int surveycharts_png_decode_rgb(
    const uint8_t *png, size_t length, uint8_t *out_rgb, size_t capacity, int *width, int *height);

/// Releases a buffer returned by `surveycharts_png_encode_rgb24`.
void surveycharts_png_free(uint8_t *bytes);

#endif
