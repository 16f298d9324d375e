#ifndef SURVEYCHARTS_CPNG_H
#define SURVEYCHARTS_CPNG_H

#include <stddef.h>
#include <stdint.h>

/// Encodes opaque 32-bit pixels (Cairo's CAIRO_FORMAT_RGB24: native-endian 0x00RRGGBB words) as an
/// 8-bit RGB PNG, into memory. No timestamps or text chunks are written, so equal pixels give
/// equal bytes.
///
/// `compression_level` is zlib's 0...9. `filter` is 0 for no row filter, 1 for the SUB filter,
/// 2 for libpng's adaptive choice.
///
/// On success returns 0 and sets `*out_bytes` (release with `surveycharts_png_free`) and
/// `*out_length`. On failure returns -1, writes a NUL-terminated message into `error_message`
/// and leaves nothing to free.
int surveycharts_png_encode_rgb24(
    const uint8_t *pixels, int width, int height, int stride,
    int compression_level, int filter,
    uint8_t **out_bytes, size_t *out_length,
    char *error_message, size_t error_message_capacity);

/// Encodes the same input as `surveycharts_png_encode_rgb24`, several times faster, with a
/// deflate that only looks for the repeats charts are made of (runs of one colour, rows like the
/// one above) and codes them with dynamic Huffman tables. Same ownership and error rules.
int surveycharts_png_encode_rgb24_fast(
    const uint8_t *pixels, int width, int height, int stride,
    uint8_t **out_bytes, size_t *out_length,
    char *error_message, size_t error_message_capacity);

/// Releases a buffer returned by `surveycharts_png_encode_rgb24`.
void surveycharts_png_free(uint8_t *bytes);

#endif
