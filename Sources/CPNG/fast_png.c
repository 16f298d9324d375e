/* A fast PNG writer for charts: flat colour areas, antialiased edges and text.
 *
 * General-purpose deflate (zlib, as libpng uses it) spends most of a chart's encoding time
 * searching for matches that in a chart are always in one of two places: the pixel to the left
 * (a run of one colour) or the pixel above (a row like the previous one). This encoder looks only
 * there, then codes the result with dynamic Huffman tables, one block per ~64K tokens.
 *
 * A chart has few colours: its flat areas, and the antialiased blends along edges and in text. So
 * before deflating, the encoder tries an 8-bit palette: flat colours exactly, every blend mapped to
 * an entry within a small tolerance per channel. One byte per pixel instead of three makes the
 * file less than half the size and the deflate a third of the work. Images that need more than 256
 * entries are written as lossless 8-bit RGB. Either way the output is a standard PNG (filter type
 * 0, one IDAT) that any decoder reads; the tests decode it with libpng and compare every pixel.
 */
#include "cpng.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Filled once, before any encoder reads them: pthread_once orders the writes before every reader. */
static void fill_tables(void) {
    for (int code = 0; code < 29; code++) {
        int end = code == 28 ? 258 : length_base[code + 1] - 1;
        if (code == 27) end = 257;
        for (int length = length_base[code]; length <= end; length++) length_symbol[length] = (uint8_t)code;
    }
    length_symbol[258] = 28;
    for (int d = 0; d < 256; d++) distance_code_small[d] = (uint8_t)distance_code(d + 1);
    for (int d = 0; d < 256; d++) distance_code_large[d] = (uint8_t)distance_code((d << 7) + 1);
}

static void prepare_tables(void) { pthread_once(&tables_once, fill_tables); }


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

/* `length` must be at least 3, deflate's shortest match: callers send shorter repeats as literals. */
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

/* Hashes the first `min_match` bytes at p (4 for one byte per pixel, 6 for three: two pixels). */
static inline uint32_t hash_bytes(const uint8_t *p, int bytes_per_pixel) {
    uint32_t a, b;
    if (bytes_per_pixel == 1) {
        memcpy(&a, p, 4);
        return (a * 2654435761u) >> (32 - HASH_BITS);
    }
    a = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    b = (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16;
    return ((a * 2654435761u) ^ (b * 2246822519u)) >> (32 - HASH_BITS);
}

/* ---- Indexed colour: the chart's own colours, and its edges within a tolerance ------------------ */

enum { COLOR_SLOTS = 1 << 14, MAX_UNIQUE_COLORS = COLOR_SLOTS / 2 };

typedef struct {
    uint32_t color; /* 0x00RRGGBB; EMPTY_SLOT when unused */
    uint32_t count;
    int16_t index;  /* palette index, once chosen */
    uint8_t flat;   /* some pixel of this colour has all four neighbours in the same colour */
} color_slot;

#define EMPTY_SLOT 0xFF000000u

typedef struct {
    color_slot *slots;
    int used;
} color_table;

static inline color_slot *color_lookup(color_table *table, uint32_t color) {
    uint32_t slot = (color * 2654435761u) >> (32 - 14);
    for (;;) {
        color_slot *entry = &table->slots[slot];
        if (entry->color == color) return entry;
        if (entry->color == EMPTY_SLOT) {
            if (table->used >= MAX_UNIQUE_COLORS) return NULL;
            table->used++;
            entry->color = color;
            return entry;
        }
        slot = (slot + 1) & (COLOR_SLOTS - 1);
    }
}

static inline int channel_distance(uint32_t a, uint32_t b) {
    int dr = abs((int)((a >> 16) & 0xFF) - (int)((b >> 16) & 0xFF));
    int dg = abs((int)((a >> 8) & 0xFF) - (int)((b >> 8) & 0xFF));
    int db = abs((int)(a & 0xFF) - (int)(b & 0xFF));
    int m = dr > dg ? dr : dg;
    return m > db ? m : db;
}

/* The end of the run of `color` that starts at x: four pixels per step where SSE2 is there. */
static inline int run_end(const uint32_t *row, int x, int width, uint32_t color) {
    int end = x + 1;
#if defined(__SSE2__)
    const __m128i mask = _mm_set1_epi32(0xFFFFFF), wanted = _mm_set1_epi32((int)color);
    while (end + 4 <= width) {
        __m128i four = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(row + end)), mask);
        int equal = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(four, wanted)));
        if (equal != 0xF) return end + __builtin_ctz(~equal & 0xF);
        end += 4;
    }
#endif
    while (end < width && (row[end] & 0xFFFFFF) == color) end++;
    return end;
}

/* Buffers that one thread reuses from chart to chart: a chart's worth of fresh allocations each
   time costs page faults (the big ones come from mmap), a tenth of the encoding time. Released when
   the thread exits. */
typedef struct {
    color_slot *slots;          /* COLOR_SLOTS, all EMPTY_SLOT between charts */
    color_slot **order;         /* 2 × MAX_UNIQUE_COLORS: in first-seen order, then ranked */
    uint32_t *runs;             /* slot << 16 | length, one per run of one colour */
    size_t runs_capacity;
    uint32_t *row_first_run;    /* height + 1 */
    uint8_t *same_as_above;     /* height */
    size_t rows_capacity;
    uint8_t *raw;               /* the filtered image */
    size_t raw_capacity;
    int32_t *recent;            /* 1 << HASH_BITS */
    uint32_t *tokens;
    size_t tokens_capacity;
} encoder_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void release_scratch(void *pointer) {
    encoder_scratch *scratch = pointer;
    free(scratch->slots);
    free(scratch->order);
    free(scratch->runs);
    free(scratch->row_first_run);
    free(scratch->same_as_above);
    free(scratch->raw);
    free(scratch->recent);
    free(scratch->tokens);
    free(scratch);
}

static void make_scratch_key(void) { pthread_key_create(&scratch_key, release_scratch); }

static encoder_scratch *thread_scratch(void) {
    pthread_once(&scratch_once, make_scratch_key);
    encoder_scratch *scratch = pthread_getspecific(scratch_key);
    if (scratch) return scratch;
    scratch = calloc(1, sizeof *scratch);
    if (!scratch) return NULL;
    scratch->slots = malloc(sizeof(color_slot) * COLOR_SLOTS);
    scratch->order = malloc(sizeof(color_slot *) * MAX_UNIQUE_COLORS * 2);
    scratch->recent = malloc(sizeof(int32_t) << HASH_BITS);
    if (!scratch->slots || !scratch->order || !scratch->recent || pthread_setspecific(scratch_key, scratch) != 0) {
        release_scratch(scratch);
        return NULL;
    }
    for (int i = 0; i < COLOR_SLOTS; i++) scratch->slots[i] = (color_slot){EMPTY_SLOT, 0, 0, 0};
    return scratch;
}

/* Grows `*buffer` to hold `needed` items of `size` bytes. */
static int ensure_capacity(void **buffer, size_t *capacity, size_t needed, size_t size) {
    if (*capacity >= needed) return 1;
    size_t grown = *capacity ? *capacity : 1024;
    while (grown < needed) grown *= 2;
    void *bigger = realloc(*buffer, grown * size);
    if (!bigger) return 0;
    *buffer = bigger;
    *capacity = grown;
    return 1;
}

/* Grows the two per-row arrays together. */
static int ensure_rows(encoder_scratch *scratch, size_t rows) {
    if (scratch->rows_capacity >= rows) return 1;
    uint8_t *same = realloc(scratch->same_as_above, rows);
    if (same) scratch->same_as_above = same;
    uint32_t *first = realloc(scratch->row_first_run, rows * sizeof(uint32_t));
    if (first) scratch->row_first_run = first;
    if (!same || !first) return 0;
    scratch->rows_capacity = rows;
    return 1;
}

/* Builds the palette and the filtered indexed rows (filter byte 0, then one index per pixel) into
   `scratch->raw`. Every colour that fills a flat area (a pixel whose four neighbours share its
   colour) gets an exact entry; every other colour maps to an entry within `tolerance` on each
   channel, or gets its own. Returns the palette size, or 0 when the image needs more than 256
   entries or memory ran out (the caller writes RGB). */
static int build_indexed_image(encoder_scratch *scratch, const uint8_t *pixels, int width, int height, int stride,
                               int tolerance, uint32_t palette[256]) {
    color_table table = {scratch->slots, 0};
    color_slot **order = scratch->order;
    uint8_t *same_as_above = scratch->same_as_above;
    uint32_t *row_first_run = scratch->row_first_run;
    size_t run_count = 0;
    int unique = 0, palette_count = 0;
    /* The palette entry last chosen for a colour in each 16×16×16 cell: usually close enough. */
    int16_t cell_hint[4096];
    memset(cell_hint, 0xFF, sizeof cell_hint);

    /* Rows whose words equal the row above's (charts have many); unequal filler bytes only cost speed. */
    for (int y = 0; y < height; y++)
        same_as_above[y] = y > 0 && memcmp(pixels + (size_t)y * (size_t)stride,
                                           pixels + (size_t)(y - 1) * (size_t)stride, 4 * (size_t)width) == 0;

    /* Colours, their pixel counts, whether each fills a flat area, and the runs: one lookup per run. */
    for (int y = 0; y < height; y++) {
        row_first_run[y] = (uint32_t)run_count;
        /* Inside a band of four equal rows this row adds no colour and no flat flag that the row
           above did not (counts only order the palette, so they may fall short), and the indexed
           row is a copy of the one above. */
        if (y >= 2 && y + 1 < height && same_as_above[y - 1] && same_as_above[y] && same_as_above[y + 1]) continue;
        if (!ensure_capacity((void **)&scratch->runs, &scratch->runs_capacity, run_count + (size_t)width,
                             sizeof(uint32_t)))
            goto done;
        const uint32_t *row = (const uint32_t *)(const void *)(pixels + (size_t)y * (size_t)stride);
        const uint32_t *above = y > 0 ? row - stride / 4 : NULL;
        const uint32_t *below = y + 1 < height ? row + stride / 4 : NULL;
        int x = 0;
        while (x < width) {
            uint32_t color = row[x] & 0xFFFFFF;
            int end = run_end(row, x, width, color);
            color_slot *entry = color_lookup(&table, color);
            if (!entry) goto done;
            if (entry->count == 0) order[unique++] = entry;
            entry->count += (uint32_t)(end - x);
            if (!entry->flat && above && below)
                for (int i = x + 1; i < end - 1; i++)
                    if ((above[i] & 0xFFFFFF) == color && (below[i] & 0xFFFFFF) == color) {
                        entry->flat = 1;
                        break;
                    }
            for (int left = end - x; left > 0; left -= 0xFFFF) /* a run longer than 65,535 pixels splits */
                scratch->runs[run_count++] = (uint32_t)(entry - table.slots) << 16 | (uint32_t)(left > 0xFFFF ? 0xFFFF : left);
            x = end;
        }
    }
    row_first_run[height] = (uint32_t)run_count;
    /* Flat colours first, then the others from the most to the least frequent (by powers of two: a
       full sort cost more than everything else here together). */
    color_slot **ranked = order + unique;
    int bucket_start[34] = {0}; /* bucket 0: flat; bucket 32 - b: counts in [2^b, 2^(b+1)) */
    for (int i = 0; i < unique; i++)
        bucket_start[(order[i]->flat ? 0 : 1 + __builtin_clz(order[i]->count)) + 1]++;
    for (int b = 1; b < 34; b++) bucket_start[b] += bucket_start[b - 1];
    for (int i = 0; i < unique; i++)
        ranked[bucket_start[order[i]->flat ? 0 : 1 + __builtin_clz(order[i]->count)]++] = order[i];
    for (int i = 0; i < unique; i++) {
        color_slot *entry = ranked[i];
        int best = -1, best_distance = tolerance + 1;
        const uint32_t color = entry->color;
        const int cell = (int)(((color >> 12) & 0xF00) | ((color >> 8) & 0xF0) | ((color >> 4) & 0xF));
        if (!entry->flat && cell_hint[cell] >= 0 && channel_distance(color, palette[cell_hint[cell]]) <= tolerance)
            best = cell_hint[cell];
        else if (!entry->flat)
            for (int p = 0; p < palette_count && best_distance > 0; p++) {
                int distance = channel_distance(color, palette[p]);
                if (distance < best_distance) {
                    best_distance = distance;
                    best = p;
                }
            }
        if (best < 0) {
            if (palette_count == 256) {
                palette_count = 0;
                goto done;
            }
            best = palette_count;
            palette[palette_count++] = color;
        }
        entry->index = (int16_t)best;
        cell_hint[cell] = (int16_t)best;
    }

    /* The rows, from the runs. */
    const size_t row_length = 1 + (size_t)width;
    for (int y = 0; y < height; y++) {
        uint8_t *out = scratch->raw + (size_t)y * row_length;
        if (same_as_above[y]) {
            memcpy(out, out - row_length, row_length);
            continue;
        }
        *out++ = 0;
        for (uint32_t run = row_first_run[y]; run < row_first_run[y + 1]; run++) {
            uint32_t length = scratch->runs[run] & 0xFFFF;
            memset(out, table.slots[scratch->runs[run] >> 16].index, length);
            out += length;
        }
    }
done:
    /* Leave the table empty for the next chart. */
    for (int i = 0; i < unique; i++) *order[i] = (color_slot){EMPTY_SLOT, 0, 0, 0};
    return palette_count;
}

/* ---- The deflate stream of filtered rows ------------------------------------------------------ */

/* Tokenises `height` filtered rows of `row_length` bytes (filter byte, then pixels of
   `bytes_per_pixel` bytes) and writes them as dynamic-Huffman deflate blocks. */
static int deflate_rows(bit_writer *w, encoder_scratch *scratch, size_t row_length, int height, int bytes_per_pixel) {
    const uint8_t *raw = scratch->raw;
    const int width = (int)((row_length - 1) / (size_t)bytes_per_pixel);
    const int up_allowed = row_length <= WINDOW;
    const int min_pixels = bytes_per_pixel == 1 ? 4 : 2; /* the hash covers this many pixels */
    token_block block = {0};
    int32_t *recent = scratch->recent;
    if (!ensure_capacity((void **)&scratch->tokens, &scratch->tokens_capacity, BLOCK_TOKENS + row_length + 8,
                         sizeof(uint32_t)))
        return 0;
    block.tokens = scratch->tokens;
    memset(recent, 0xFF, sizeof(int32_t) << HASH_BITS);
    const int bpp = bytes_per_pixel;
    for (int y = 0; y < height; y++) {
        const uint8_t *current = raw + (size_t)y * row_length;
        const uint8_t *previous = current - row_length;
        /* A row of a 1-pixel-wide palette image is 2 bytes, shorter than any match (found by fuzzing). */
        if (y > 0 && up_allowed && row_length >= 3 && memcmp(current, previous, row_length) == 0) {
            add_match(&block, (int)row_length, (int)row_length);
        } else {
            add_literal(&block, 0);
            const uint8_t *row = current + 1, *above = previous + 1;
            int x = 0;
            while (x < width) {
                const uint8_t *here = row + bpp * x;
                size_t rest = (size_t)bpp * (size_t)(width - x);
                int up = (y > 0 && up_allowed) ? (int)(common_prefix(here, above + bpp * x, rest) / (size_t)bpp) : 0;
                /* byte[i] == byte[i - bpp] all along means every pixel equals the one left of x */
                int left = x > 0 ? (int)(common_prefix(here, here - bpp, rest) / (size_t)bpp) : 0;
                int shortest = bpp == 1 ? 3 : 2;
                if (up >= shortest || left >= shortest) {
                    int use_up = up >= left;
                    int run = use_up ? up : left;
                    add_match(&block, run * bpp, use_up ? (int)row_length : bpp);
                    x += run;
                    continue;
                }
                /* Neither neighbour repeats: look for the same pixels anywhere in the window. */
                if (x + min_pixels <= width) {
                    int32_t position = (int32_t)((size_t)y * row_length + 1 + (size_t)bpp * (size_t)x);
                    uint32_t slot = hash_bytes(here, bpp);
                    int32_t candidate = recent[slot];
                    recent[slot] = position;
                    int distance = position - candidate;
                    if (candidate >= 0 && distance <= WINDOW) {
                        int run = (int)(common_prefix(here, raw + candidate, rest < 258 ? rest : 258) / (size_t)bpp);
                        if (run >= min_pixels) {
                            add_match(&block, run * bpp, distance);
                            x += run;
                            continue;
                        }
                    }
                }
                for (int b = 0; b < bpp; b++) add_literal(&block, here[b]);
                x++;
            }
        }
        if (block.count >= BLOCK_TOKENS) write_block(w, &block, 0);
    }
    write_block(w, &block, 1);
    return !w->failed;
}

int surveycharts_png_encode_fast(
    const uint8_t *pixels, int width, int height, int stride, int palette_tolerance,
    uint8_t **out_bytes, size_t *out_length, int *out_indexed,
    char *error_message, size_t error_message_capacity) {
    *out_bytes = NULL;
    *out_length = 0;
    *out_indexed = 0;
    if (width <= 0 || height <= 0 || stride < width * 4 || stride % 4 != 0) {
        snprintf(error_message, error_message_capacity, "invalid image geometry %dx%d stride %d", width, height,
                 stride);
        return -1;
    }
    prepare_tables();
    bit_writer w = {0};
    uint32_t palette[256];
    int palette_count = 0;
    encoder_scratch *scratch = thread_scratch();
    /* The whole filtered image (filter type None), as the PNG's zlib stream holds it. */
    if (!scratch || !ensure_capacity((void **)&scratch->raw, &scratch->raw_capacity,
                                     (1 + 3 * (size_t)width) * (size_t)height, 1) ||
        !ensure_rows(scratch, (size_t)height + 1) ||
        !reserve(&w, 64 + 3 * 256 + 12)) {
        free(w.bytes);
        snprintf(error_message, error_message_capacity, "out of memory");
        return -1;
    }
    uint8_t *raw = scratch->raw;
    if (palette_tolerance >= 0)
        palette_count = build_indexed_image(scratch, pixels, width, height, stride, palette_tolerance, palette);
    const int bytes_per_pixel = palette_count > 0 ? 1 : 3;
    const size_t row_length = 1 + (size_t)bytes_per_pixel * (size_t)width;
    if (palette_count == 0)
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
    /* 8-bit, RGB (2) or palette (3), deflate, filter 0, no interlace */
    uint8_t header_tail[5] = {8, palette_count > 0 ? 3 : 2, 0, 0, 0};
    memcpy(w.bytes + w.length, header_tail, 5);
    w.length += 5;
    put_chunk_crc(&w, 12);
    if (palette_count > 0) {
        put_chunk_start(&w, (uint32_t)(3 * palette_count), "PLTE");
        size_t type_offset = w.length - 4;
        for (int i = 0; i < palette_count; i++) {
            w.bytes[w.length++] = (uint8_t)(palette[i] >> 16);
            w.bytes[w.length++] = (uint8_t)(palette[i] >> 8);
            w.bytes[w.length++] = (uint8_t)palette[i];
        }
        put_chunk_crc(&w, type_offset);
    }
    size_t idat_length_offset = w.length;
    put_chunk_start(&w, 0, "IDAT");
    size_t idat_type_offset = w.length - 4;
    put_bits(&w, 0x78, 8); /* zlib header: deflate, 32K window */
    put_bits(&w, 0x01, 8);
    int deflated = deflate_rows(&w, scratch, row_length, height, bytes_per_pixel);
    if (!deflated || !reserve(&w, 64)) {
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
    *out_indexed = palette_count > 0;
    return 0;
}
