#include "cpng.h"

#include <png.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *bytes;
    size_t length;
    size_t capacity;
    int out_of_memory;
} growable_buffer;

typedef struct {
    jmp_buf jump;
    char *message;
    size_t capacity;
} error_context;

static void write_to_buffer(png_structp png, png_bytep data, png_size_t length) {
    growable_buffer *buffer = (growable_buffer *)png_get_io_ptr(png);
    if (buffer->length + length > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 16384;
        while (capacity < buffer->length + length) capacity *= 2;
        uint8_t *grown = realloc(buffer->bytes, capacity);
        if (!grown) {
            buffer->out_of_memory = 1;
            png_error(png, "out of memory while growing the PNG buffer");
        }
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->length, data, length);
    buffer->length += length;
}

static void flush_nothing(png_structp png) { (void)png; }

static void on_error(png_structp png, png_const_charp message) {
    error_context *context = (error_context *)png_get_error_ptr(png);
    snprintf(context->message, context->capacity, "libpng: %s", message);
    longjmp(context->jump, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

int surveycharts_png_encode_rgb24(
    const uint8_t *pixels, int width, int height, int stride,
    int compression_level, int filter, int strategy,
    uint8_t **out_bytes, size_t *out_length,
    char *error_message, size_t error_message_capacity) {
    *out_bytes = NULL;
    *out_length = 0;
    if (width <= 0 || height <= 0 || stride < width * 4) {
        snprintf(error_message, error_message_capacity, "invalid image geometry %dx%d stride %d", width, height,
                 stride);
        return -1;
    }
    error_context errors = {.message = error_message, .capacity = error_message_capacity};
    /* volatile: these survive the longjmp back into this frame. */
    growable_buffer *volatile buffer = calloc(1, sizeof(growable_buffer));
    png_bytep *volatile rows = calloc((size_t)height, sizeof(png_bytep));
    png_structp png = NULL;
    png_infop info = NULL;
    if (!buffer || !rows) {
        snprintf(error_message, error_message_capacity, "out of memory");
        free(buffer);
        free(rows);
        return -1;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, on_error, on_warning);
    if (png) info = png_create_info_struct(png);
    if (!png || !info) {
        snprintf(error_message, error_message_capacity, "libpng could not allocate its state");
        png_destroy_write_struct(&png, NULL);
        free(buffer);
        free(rows);
        return -1;
    }
    if (setjmp(errors.jump)) {
        png_destroy_write_struct(&png, &info);
        free(buffer->bytes);
        free(buffer);
        free(rows);
        return -1;
    }
    png_set_write_fn(png, buffer, write_to_buffer, flush_nothing);
    png_set_compression_level(png, compression_level);
    png_set_compression_mem_level(png, 9);
    switch (filter) {
    case 0: png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE); break;
    case 1: png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB); break;
    case 2: png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP); break;
    case 3: png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB | PNG_FILTER_UP); break;
    default: png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS); break;
    }
    switch (strategy) {
    case 1: png_set_compression_strategy(png, Z_RLE); break;
    case 2: png_set_compression_strategy(png, Z_FILTERED); break;
    case 3: png_set_compression_strategy(png, Z_HUFFMAN_ONLY); break;
    default: break;
    }
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    png_write_info(png, info);
    /* Cairo stores RGB24 as native-endian 32-bit words 0x00RRGGBB. On little-endian machines the bytes are
       B, G, R, X: swap to RGB and drop the filler byte. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    png_set_bgr(png);
    png_set_filler(png, 0, PNG_FILLER_AFTER);
#else
    png_set_filler(png, 0, PNG_FILLER_BEFORE);
#endif
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * (size_t)stride);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out_bytes = buffer->bytes;
    *out_length = buffer->length;
    free(buffer);
    free(rows);
    return 0;
}

void surveycharts_png_free(uint8_t *bytes) { free(bytes); }

int surveycharts_png_decode_rgb(
    const uint8_t *png, size_t length, uint8_t *out_rgb, size_t capacity, int *width, int *height) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, png, length)) return -1;
    image.format = PNG_FORMAT_RGB;
    size_t needed = PNG_IMAGE_SIZE(image);
    if (needed > capacity) {
        png_image_free(&image);
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, out_rgb, 0, NULL)) {
        png_image_free(&image);
        return -1;
    }
    *width = (int)image.width;
    *height = (int)image.height;
    return 0;
}
