/* gzip through zlib. The macros deflateInit2/inflateInit2 pass zlib's version and struct size,
   which Swift cannot import: the calls live here. */
#include "cgzip.h"

#include <string.h>
#include <zlib.h>

/* gzip wrapper (16) around the largest window (15). */
static const int gzip_window_bits = 15 + 16;

size_t cgzip_bound(size_t length) {
    /* deflateBound for the gzip wrapper: the zlib bound plus the longer gzip header and trailer. */
    return length + (length >> 12) + (length >> 14) + (length >> 25) + 13 + 18;
}

size_t cgzip_compress(const uint8_t *input, size_t length, int level, uint8_t *output, size_t capacity) {
    if (level < 1 || level > 9 || length > (size_t)UINT32_MAX || capacity > (size_t)UINT32_MAX) return 0;
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (deflateInit2(&stream, level, Z_DEFLATED, gzip_window_bits, 9, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)length;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    int result = deflate(&stream, Z_FINISH);
    size_t written = (size_t)stream.total_out;
    deflateEnd(&stream);
    return result == Z_STREAM_END ? written : 0;
}

long long cgzip_decompress(const uint8_t *input, size_t length, uint8_t *output, size_t capacity) {
    if (length > (size_t)UINT32_MAX || capacity > (size_t)UINT32_MAX) return -1;
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (inflateInit2(&stream, gzip_window_bits) != Z_OK) return -1;
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)length;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    int result = inflate(&stream, Z_FINISH);
    long long written = (long long)stream.total_out;
    /* One whole member and nothing after it. */
    int whole = result == Z_STREAM_END && stream.avail_in == 0;
    inflateEnd(&stream);
    return whole ? written : -1;
}
