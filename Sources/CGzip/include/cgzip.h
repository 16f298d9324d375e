#ifndef CGZIP_H
#define CGZIP_H

#include <stddef.h>
#include <stdint.h>

/// The most bytes `cgzip_compress` can write for `length` input bytes.
size_t cgzip_bound(size_t length);

/// Compresses `length` bytes into a gzip member (RFC 1952, no name, no time) at `level` (1-9).
/// Returns the bytes written to `output`, or 0 when it did not fit in `capacity` or zlib failed.
size_t cgzip_compress(const uint8_t *input, size_t length, int level, uint8_t *output, size_t capacity);

/// Decompresses one gzip member into `output`. Returns the bytes written, or -1 when the input is
/// not one whole gzip member or its content would not fit in `capacity`.
long long cgzip_decompress(const uint8_t *input, size_t length, uint8_t *output, size_t capacity);

#endif
