/* A fast PNG writer for charts: flat colour areas, antialiased edges and text.
 *
 * General-purpose deflate (zlib, as libpng uses it) spends most of a chart's encoding time
 * searching for matches that in a chart are always in one of two places: the pixel to the left
 * (a run of one colour) or the pixel above (a row like the previous one). This encoder looks only
 * there, then codes the result with dynamic Huffman tables, one block per ~64K tokens. The output
 * is a standard PNG (8-bit RGB, filter type 0, one IDAT) that any decoder reads; the tests decode
 * it with Cairo's libpng reader and compare every pixel.
 */
#include "cpng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { MAX_LITLEN = 286, MAX_DIST = 30, BLOCK_TOKENS = 1 << 16 };

typedef struct {
    uint8_t *bytes;
    size_t length, capacity;
    uint64_t bits;
    int count;
    int failed;
} bit_writer;

static int reserve(bit_writer *w, size_t extra) {
    if (w->failed) return 0;
    if (w->length + extra + 16 <= w->capacity) return 1;
    size_t capacity = w->capacity ? w->capacity : 65536;
    while (capacity < w->length + extra + 16) capacity *= 2;
    uint8_t *grown = realloc(w->bytes, capacity);
    if (!grown) {
        w->failed = 1;
        return 0;
    }
    w->bytes = grown;
    w->capacity = capacity;
    return 1;
}

static inline void put_bits(bit_writer *w, uint32_t value, int count) {
    w->bits |= (uint64_t)value << w->count;
    w->count += count;
    while (w->count >= 8) {
        w->bytes[w->length++] = (uint8_t)w->bits;
        w->bits >>= 8;
        w->count -= 8;
    }
}

static void align_to_byte(bit_writer *w) {
    if (w->count > 0) put_bits(w, 0, 8 - w->count);
}

static void put_u32_be(bit_writer *w, uint32_t value) {
    w->bytes[w->length++] = (uint8_t)(value >> 24);
    w->bytes[w->length++] = (uint8_t)(value >> 16);
    w->bytes[w->length++] = (uint8_t)(value >> 8);
    w->bytes[w->length++] = (uint8_t)value;
}

/* Deflate's length and distance alphabets (RFC 1951, 3.2.5). */
static const uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                         31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                         2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t distance_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                           193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t distance_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                           6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t code_length_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

static int distance_code(int distance) {
    int code = 0;
    while (code < 29 && distance_base[code + 1] <= distance) code++;
    return code;
}

static uint8_t distance_code_small[256]; /* distance - 1 < 256 */
static uint8_t distance_code_large[256]; /* (distance - 1) >> 7, for larger distances */
static uint8_t length_symbol[259]; /* length 3...258 → index into length_base */
static int tables_ready = 0;

static void prepare_tables(void) {
    if (tables_ready) return;
    for (int code = 0; code < 29; code++) {
        int end = code == 28 ? 258 : length_base[code + 1] - 1;
        if (code == 27) end = 257;
        for (int length = length_base[code]; length <= end; length++) length_symbol[length] = (uint8_t)code;
    }
    length_symbol[258] = 28;
    for (int d = 0; d < 256; d++) distance_code_small[d] = (uint8_t)distance_code(d + 1);
    for (int d = 0; d < 256; d++) distance_code_large[d] = (uint8_t)distance_code((d << 7) + 1);
    tables_ready = 1; /* idempotent: racing threads write the same values */
}


typedef struct {
    uint32_t frequency;
    uint16_t symbol;
} weighted_symbol;

static int by_frequency(const void *a, const void *b) {
    const weighted_symbol *x = a, *y = b;
    if (x->frequency != y->frequency) return x->frequency < y->frequency ? -1 : 1;
    return (int)x->symbol - (int)y->symbol;
}

/* Huffman code lengths limited to `limit` bits, from symbol frequencies. */
static void build_lengths(const uint32_t *frequencies, int count, int limit, uint8_t *lengths) {
    weighted_symbol used[MAX_LITLEN];
    int n = 0;
    memset(lengths, 0, (size_t)count);
    for (int symbol = 0; symbol < count; symbol++)
        if (frequencies[symbol]) used[n++] = (weighted_symbol){frequencies[symbol], (uint16_t)symbol};
    if (n == 0) return;
    if (n == 1) {
        lengths[used[0].symbol] = 1;
        return;
    }
    qsort(used, (size_t)n, sizeof used[0], by_frequency);
    /* Two-queue Huffman: leaves in frequency order, internal nodes in creation order. */
    uint32_t weight[2 * MAX_LITLEN];
    int parent[2 * MAX_LITLEN];
    int depth[2 * MAX_LITLEN];
    for (int i = 0; i < n; i++) weight[i] = used[i].frequency;
    int leaf = 0, node = n, next = n;
    for (int k = 0; k < n - 1; k++) {
        int pick[2];
        for (int j = 0; j < 2; j++) {
            if (leaf < n && (node >= next || weight[leaf] <= weight[node]))
                pick[j] = leaf++;
            else
                pick[j] = node++;
        }
        weight[next] = weight[pick[0]] + weight[pick[1]];
        parent[pick[0]] = parent[pick[1]] = next;
        next++;
    }
    depth[next - 1] = 0;
    for (int i = next - 2; i >= 0; i--) depth[i] = depth[parent[i]] + 1;
    int per_length[33] = {0};
    for (int i = 0; i < n; i++) per_length[depth[i] > 32 ? 32 : depth[i]]++;
    /* Enforce the limit while keeping the code complete (the method of miniz and zlib). */
    for (int i = limit + 1; i <= 32; i++) {
        per_length[limit] += per_length[i];
        per_length[i] = 0;
    }
    uint32_t total = 0;
    for (int i = limit; i > 0; i--) total += (uint32_t)per_length[i] << (limit - i);
    while (total != (1u << limit)) {
        per_length[limit]--;
        for (int i = limit - 1; i > 0; i--) {
            if (per_length[i]) {
                per_length[i]--;
                per_length[i + 1] += 2;
                break;
            }
        }
        total--;
    }
    /* The rarest symbols get the longest codes. */
    int index = 0;
    for (int length = limit; length > 0; length--)
        for (int k = per_length[length]; k > 0; k--) lengths[used[index++].symbol] = (uint8_t)length;
}

/* Canonical codes, bit-reversed because deflate sends Huffman codes most significant bit first. */
static void build_codes(const uint8_t *lengths, int count, uint16_t *codes) {
    int per_length[16] = {0};
    uint16_t next_code[16];
    for (int i = 0; i < count; i++) per_length[lengths[i]]++;
    per_length[0] = 0;
    uint16_t code = 0;
    for (int bits = 1; bits < 16; bits++) {
        code = (uint16_t)((code + per_length[bits - 1]) << 1);
        next_code[bits] = code;
    }
    for (int i = 0; i < count; i++) {
        int length = lengths[i];
        if (!length) continue;
        uint16_t value = next_code[length]++;
        uint16_t reversed = 0;
        for (int b = 0; b < length; b++) reversed |= (uint16_t)(((value >> b) & 1) << (length - 1 - b));
        codes[i] = reversed;
    }
}

/* Tokens: a literal byte, or a match (bit 31) with its length in bits 16-24 and its distance
   minus one in bits 0-15. */
#define MATCH_FLAG 0x80000000u


typedef struct {
    uint32_t *tokens;
    int count;
    uint32_t litlen_frequency[MAX_LITLEN];
    uint32_t distance_frequency[MAX_DIST];
} token_block;

static inline int distance_code_of(int distance) {
    int d = distance - 1;
    return d < 256 ? distance_code_small[d] : distance_code_large[d >> 7];
}

static inline void add_literal(token_block *block, uint8_t byte) {
    block->tokens[block->count++] = byte;
    block->litlen_frequency[byte]++;
}

static void add_match(token_block *block, int length, int distance) {
    int code = distance_code_of(distance);
    while (length > 0) {
        int piece = length > 258 ? 258 : length;
        if (length > 258 && length - 258 < 3) piece = length - 3;
        block->tokens[block->count++] = MATCH_FLAG | ((uint32_t)piece << 16) | (uint32_t)(distance - 1);
        block->litlen_frequency[257 + length_symbol[piece]]++;
        block->distance_frequency[code]++;
        length -= piece;
    }
}

static void write_block(bit_writer *w, token_block *block, int final) {
    uint8_t litlen_lengths[MAX_LITLEN], distance_lengths[MAX_DIST];
    uint16_t litlen_codes[MAX_LITLEN] = {0}, distance_codes[MAX_DIST] = {0};
    block->litlen_frequency[256] = 1;
    build_lengths(block->litlen_frequency, MAX_LITLEN, 15, litlen_lengths);
    int any_distance = 0;
    for (int i = 0; i < MAX_DIST; i++) any_distance |= block->distance_frequency[i] != 0;
    if (!any_distance) block->distance_frequency[0] = 1; /* deflate needs at least one distance code */
    build_lengths(block->distance_frequency, MAX_DIST, 15, distance_lengths);
    build_codes(litlen_lengths, MAX_LITLEN, litlen_codes);
    build_codes(distance_lengths, MAX_DIST, distance_codes);

    int hlit = MAX_LITLEN;
    while (hlit > 257 && litlen_lengths[hlit - 1] == 0) hlit--;
    int hdist = MAX_DIST;
    while (hdist > 1 && distance_lengths[hdist - 1] == 0) hdist--;
    uint8_t all_lengths[MAX_LITLEN + MAX_DIST];
    memcpy(all_lengths, litlen_lengths, (size_t)hlit);
    memcpy(all_lengths + hlit, distance_lengths, (size_t)hdist);
    int total_lengths = hlit + hdist;
    uint32_t length_frequency[19] = {0};
    for (int i = 0; i < total_lengths; i++) length_frequency[all_lengths[i]]++;
    uint8_t length_lengths[19];
    uint16_t length_codes[19] = {0};
    build_lengths(length_frequency, 19, 7, length_lengths);
    build_codes(length_lengths, 19, length_codes);
    int hclen = 19;
    while (hclen > 4 && length_lengths[code_length_order[hclen - 1]] == 0) hclen--;

    if (!reserve(w, (size_t)block->count * 6 + 1024)) return;
    put_bits(w, final ? 1 : 0, 1);
    put_bits(w, 2, 2); /* dynamic Huffman */
    put_bits(w, (uint32_t)(hlit - 257), 5);
    put_bits(w, (uint32_t)(hdist - 1), 5);
    put_bits(w, (uint32_t)(hclen - 4), 4);
    for (int i = 0; i < hclen; i++) put_bits(w, length_lengths[code_length_order[i]], 3);
    for (int i = 0; i < total_lengths; i++) put_bits(w, length_codes[all_lengths[i]], length_lengths[all_lengths[i]]);

    for (int i = 0; i < block->count; i++) {
        uint32_t token = block->tokens[i];
        if (!(token & MATCH_FLAG)) {
            put_bits(w, litlen_codes[token], litlen_lengths[token]);
            continue;
        }
        int length = (int)((token >> 16) & 0x1FF);
        int distance = (int)(token & 0xFFFF) + 1;
        int symbol = length_symbol[length];
        put_bits(w, litlen_codes[257 + symbol], litlen_lengths[257 + symbol]);
        if (length_extra[symbol]) put_bits(w, (uint32_t)(length - length_base[symbol]), length_extra[symbol]);
        int code = distance_code_of(distance);
        put_bits(w, distance_codes[code], distance_lengths[code]);
        if (distance_extra[code]) put_bits(w, (uint32_t)(distance - distance_base[code]), distance_extra[code]);
    }
    put_bits(w, litlen_codes[256], litlen_lengths[256]);
    block->count = 0;
    memset(block->litlen_frequency, 0, sizeof block->litlen_frequency);
    memset(block->distance_frequency, 0, sizeof block->distance_frequency);
}

static void put_chunk_start(bit_writer *w, uint32_t length, const char *type) {
    put_u32_be(w, length);
    memcpy(w->bytes + w->length, type, 4);
    w->length += 4;
}

static void put_chunk_crc(bit_writer *w, size_t type_offset) {
    uint32_t crc = (uint32_t)crc32(0, w->bytes + type_offset, (uInt)(w->length - type_offset));
    put_u32_be(w, crc);
}

#if defined(__SSE2__)
#include <emmintrin.h>

static inline uint64_t lanes_sum(__m128i v) {
    uint32_t lanes[4];
    _mm_storeu_si128((__m128i *)lanes, v);
    return (uint64_t)lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

/* Adler-32 of the zlib stream. zlib's scalar loop was an eighth of the encoding time; SSE2 sums
   16 bytes per step (the method of Chromium's and zlib-ng's SIMD versions). */
static uint32_t adler32_fast(const uint8_t *bytes, size_t length) {
    uint64_t s1 = 1, s2 = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    const __m128i high_weights = _mm_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9);
    const __m128i low_weights = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
    while (length >= 16) {
        size_t blocks = length / 16;
        if (blocks > 347) blocks = 347; /* 5552 bytes: the most before 32-bit lanes could overflow */
        length -= blocks * 16;
        s2 += s1 * 16 * blocks;
        __m128i sums = zero, prefix_sums = zero, weighted = zero;
        for (size_t j = 0; j < blocks; j++, bytes += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)bytes);
            prefix_sums = _mm_add_epi32(prefix_sums, sums);
            sums = _mm_add_epi32(sums, _mm_sad_epu8(v, zero));
            __m128i first = _mm_madd_epi16(_mm_unpacklo_epi8(v, zero), high_weights);
            __m128i second = _mm_madd_epi16(_mm_unpackhi_epi8(v, zero), low_weights);
            weighted = _mm_add_epi32(weighted, _mm_add_epi32(first, second));
        }
        s1 += lanes_sum(sums);
        s2 += 16 * lanes_sum(prefix_sums) + lanes_sum(weighted);
        s1 %= 65521;
        s2 %= 65521;
    }
#endif
    while (length > 0) {
        size_t chunk = length < 5552 ? length : 5552;
        length -= chunk;
        while (chunk--) {
            s1 += *bytes++;
            s2 += s1;
        }
        s1 %= 65521;
        s2 %= 65521;
    }
    return (uint32_t)((s2 << 16) | s1);
}

/* How many leading bytes of `a` and `b` agree, up to `limit`; eight at a time. */
static inline size_t common_prefix(const uint8_t *a, const uint8_t *b, size_t limit) {
    size_t n = 0;
    while (n + 8 <= limit) {
        uint64_t x, y;
        memcpy(&x, a + n, 8);
        memcpy(&y, b + n, 8);
        uint64_t difference = x ^ y;
        if (difference) return n + ((size_t)__builtin_ctzll(difference) >> 3);
        n += 8;
    }
    while (n < limit && a[n] == b[n]) n++;
    return n;
}

enum { HASH_BITS = 15, WINDOW = 32768 };

static inline uint32_t hash_two_pixels(const uint8_t *p) {
    uint32_t a = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    uint32_t b = (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16;
    return ((a * 2654435761u) ^ (b * 2246822519u)) >> (32 - HASH_BITS);
}

int surveycharts_png_encode_rgb24_fast(
    const uint8_t *pixels, int width, int height, int stride,
    uint8_t **out_bytes, size_t *out_length,
    char *error_message, size_t error_message_capacity) {
    *out_bytes = NULL;
    *out_length = 0;
    if (width <= 0 || height <= 0 || stride < width * 4) {
        snprintf(error_message, error_message_capacity, "invalid image geometry %dx%d stride %d", width, height,
                 stride);
        return -1;
    }
    prepare_tables();
    const size_t row_length = 1 + 3 * (size_t)width;
    const int up_allowed = row_length <= WINDOW;
    bit_writer w = {0};
    token_block block = {0};
    /* The whole filtered image (filter type None), as the PNG's zlib stream holds it. */
    uint8_t *raw = malloc(row_length * (size_t)height);
    int32_t *recent = malloc(sizeof(int32_t) << HASH_BITS);
    block.tokens = malloc(sizeof(uint32_t) * (size_t)(BLOCK_TOKENS + row_length + 8));
    if (!raw || !recent || !block.tokens || !reserve(&w, 64)) {
        free(raw);
        free(recent);
        free(block.tokens);
        free(w.bytes);
        snprintf(error_message, error_message_capacity, "out of memory");
        return -1;
    }
    memset(recent, 0xFF, sizeof(int32_t) << HASH_BITS);
    for (int y = 0; y < height; y++) {
        const uint8_t *source = pixels + (size_t)y * (size_t)stride;
        uint8_t *out = raw + (size_t)y * row_length;
        *out++ = 0;
        for (int x = 0; x < width; x++, source += 4, out += 3) {
            uint32_t pixel;
            memcpy(&pixel, source, 4); /* native-endian 0x00RRGGBB */
            out[0] = (uint8_t)(pixel >> 16);
            out[1] = (uint8_t)(pixel >> 8);
            out[2] = (uint8_t)pixel;
        }
    }
    uint32_t adler = adler32_fast(raw, row_length * (size_t)height);

    static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    memcpy(w.bytes, signature, 8);
    w.length = 8;
    put_chunk_start(&w, 13, "IHDR");
    put_u32_be(&w, (uint32_t)width);
    put_u32_be(&w, (uint32_t)height);
    uint8_t header_tail[5] = {8, 2, 0, 0, 0}; /* 8-bit, RGB, deflate, filter 0, no interlace */
    memcpy(w.bytes + w.length, header_tail, 5);
    w.length += 5;
    put_chunk_crc(&w, 12);
    size_t idat_length_offset = w.length;
    put_chunk_start(&w, 0, "IDAT");
    size_t idat_type_offset = w.length - 4;
    put_bits(&w, 0x78, 8); /* zlib header: deflate, 32K window */
    put_bits(&w, 0x01, 8);

    for (int y = 0; y < height; y++) {
        const uint8_t *current = raw + (size_t)y * row_length;
        const uint8_t *previous = current - row_length;
        if (y > 0 && up_allowed && memcmp(current, previous, row_length) == 0) {
            add_match(&block, (int)row_length, (int)row_length);
        } else {
            add_literal(&block, 0);
            const uint8_t *row = current + 1, *above = previous + 1;
            int x = 0;
            while (x < width) {
                const uint8_t *here = row + 3 * x;
                size_t rest = 3 * (size_t)(width - x);
                int up = (y > 0 && up_allowed) ? (int)(common_prefix(here, above + 3 * x, rest) / 3) : 0;
                /* byte[i] == byte[i - 3] all along means every pixel equals the one left of x */
                int left = x > 0 ? (int)(common_prefix(here, here - 3, rest) / 3) : 0;
                if (up >= 2 || left >= 2) {
                    int use_up = up >= left;
                    int run = use_up ? up : left;
                    add_match(&block, run * 3, use_up ? (int)row_length : 3);
                    x += run;
                    continue;
                }
                /* Neither neighbour repeats: look for the same two pixels anywhere in the window. */
                if (x + 2 <= width) {
                    int32_t position = (int32_t)((size_t)y * row_length + 1 + 3 * (size_t)x);
                    uint32_t slot = hash_two_pixels(here);
                    int32_t candidate = recent[slot];
                    recent[slot] = position;
                    int distance = position - candidate;
                    if (candidate >= 0 && distance <= WINDOW) {
                        int run = (int)(common_prefix(here, raw + candidate, rest < 258 ? rest : 258) / 3);
                        if (run >= 2) {
                            add_match(&block, run * 3, distance);
                            x += run;
                            continue;
                        }
                    }
                }
                add_literal(&block, here[0]);
                add_literal(&block, here[1]);
                add_literal(&block, here[2]);
                x++;
            }
        }
        if (block.count >= BLOCK_TOKENS) write_block(&w, &block, 0);
    }
    write_block(&w, &block, 1);
    free(raw);
    free(recent);
    free(block.tokens);
    if (!reserve(&w, 64)) {
        free(w.bytes);
        snprintf(error_message, error_message_capacity, "out of memory");
        return -1;
    }
    align_to_byte(&w);
    put_u32_be(&w, adler);
    uint32_t idat_length = (uint32_t)(w.length - idat_type_offset - 4);
    w.bytes[idat_length_offset] = (uint8_t)(idat_length >> 24);
    w.bytes[idat_length_offset + 1] = (uint8_t)(idat_length >> 16);
    w.bytes[idat_length_offset + 2] = (uint8_t)(idat_length >> 8);
    w.bytes[idat_length_offset + 3] = (uint8_t)idat_length;
    put_chunk_crc(&w, idat_type_offset);
    put_chunk_start(&w, 0, "IEND");
    put_chunk_crc(&w, w.length - 4);
    if (w.failed) {
        free(w.bytes);
        snprintf(error_message, error_message_capacity, "out of memory");
        return -1;
    }
    *out_bytes = w.bytes;
    *out_length = w.length;
    return 0;
}
