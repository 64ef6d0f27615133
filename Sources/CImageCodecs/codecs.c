/* JPEG (libjpeg) and PNG (libpng) decoding from memory into 8-bit RGB.
   Both libraries report fatal errors through a callback that must not return; ours
   longjmp back to the setjmp in the public function that is running, which returns an
   error code and leaves the message in the handle. After a longjmp only handle fields
   are read (never locals changed since setjmp), so no `volatile` is needed. */

#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#define CIC_MSG_MAX 256

static void cic_copy(char *dst, const char *prefix, const char *msg) {
    snprintf(dst, CIC_MSG_MAX, "%s%s", prefix, msg ? msg : "");
}

/* ------------------------------------------------------------------------------------ */
/* JPEG                                                                                 */
/* ------------------------------------------------------------------------------------ */

/* A progressive file may hold any number of scans, each a full pass over the image;
   libjpeg-turbo's documentation suggests capping them against crafted files. */
#define CIC_JPEG_MAX_SCANS 1000

struct cic_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int code;
    int header_read;
    int decoded;
    int cmyk;          /* output through a CMYK row, converted here */
    JSAMPLE *row;      /* that row: width * 4 */
    uint8_t *exif;     /* copy of the Exif TIFF bytes: saved markers die with jpeg_abort */
    size_t exif_size;
    cic_image_info info;
    char message[CIC_MSG_MAX];
    char warning[CIC_MSG_MAX];
};

static _Noreturn void cic_jpeg_fail(cic_jpeg *h, int code, const char *msg) {
    h->code = code;
    cic_copy(h->message, "", msg);
    longjmp(h->jump, 1);
}

/* libjpeg's default error_exit calls exit(): ours returns to the caller's setjmp. */
static _Noreturn void cic_jpeg_error_exit(j_common_ptr c) {
    cic_jpeg *h = (cic_jpeg *)c->client_data;
    char buf[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, buf);
    int code = CIC_ERR_CORRUPT;
    switch (c->err->msg_code) {
    case JERR_OUT_OF_MEMORY: code = CIC_ERR_NOMEM; break;
    case JERR_CONVERSION_NOTIMPL:
    case JERR_BAD_PRECISION:  /* 12-bit JPEG */
    case JERR_NOT_COMPILED: code = CIC_ERR_UNSUPPORTED; break;
    default: break;
    }
    cic_jpeg_fail(h, code, buf);
}

/* Warnings that mean pixel data is missing or wrong: libjpeg would go on and fill the
   rest with grey (or garbage), so they are errors here. */
static int cic_jpeg_warning_is_fatal(int code) {
    switch (code) {
    case JWRN_JPEG_EOF:        /* Premature end of JPEG file (truncated) */
    case JWRN_HIT_MARKER:      /* Corrupt JPEG data: premature end of data segment */
    case JWRN_HUFF_BAD_CODE:   /* Corrupt JPEG data: bad Huffman code */
    case JWRN_ARITH_BAD_CODE:  /* Corrupt JPEG data: bad arithmetic code */
    case JWRN_MUST_RESYNC:     /* Corrupt JPEG data: found marker instead of RSTn */
        return 1;
    default:                   /* extraneous bytes, odd JFIF/Adobe/ICC markers, ... */
        return 0;
    }
}

static void cic_jpeg_emit_message(j_common_ptr c, int level) {
    if (level >= 0) return; /* trace messages */
    cic_jpeg *h = (cic_jpeg *)c->client_data;
    c->err->num_warnings++;
    char buf[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, buf);
    if (cic_jpeg_warning_is_fatal(c->err->msg_code)) cic_jpeg_fail(h, CIC_ERR_CORRUPT, buf);
    if (h->warning[0] == '\0') cic_copy(h->warning, "", buf);
}

static void cic_jpeg_progress(j_common_ptr c) {
    if (!c->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > CIC_JPEG_MAX_SCANS) {
        char buf[96];
        snprintf(buf, sizeof buf, "more than %d scans in a progressive JPEG", CIC_JPEG_MAX_SCANS);
        cic_jpeg_fail((cic_jpeg *)c->client_data, CIC_ERR_CORRUPT, buf);
    }
}

cic_jpeg *cic_jpeg_create(void) {
    cic_jpeg *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->cinfo.err = jpeg_std_error(&h->err);
    h->err.error_exit = cic_jpeg_error_exit;
    h->err.emit_message = cic_jpeg_emit_message;
    h->cinfo.client_data = h;
    if (setjmp(h->jump)) {
        jpeg_destroy_decompress(&h->cinfo);
        free(h);
        return NULL;
    }
    jpeg_create_decompress(&h->cinfo);
    h->progress.progress_monitor = cic_jpeg_progress;
    h->cinfo.progress = &h->progress;
    return h;
}

int cic_jpeg_read_header(cic_jpeg *h, const uint8_t *data, size_t size, cic_image_info *info) {
    if (!h || !data || !info || h->header_read) return CIC_ERR_USAGE;
    memset(info, 0, sizeof *info);
    if (setjmp(h->jump)) return h->code;
    jpeg_mem_src(&h->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&h->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&h->cinfo, TRUE);

    cic_image_info out = {0};
    out.width = h->cinfo.image_width;
    out.height = h->cinfo.image_height;
    out.components = h->cinfo.num_components;
    out.bit_depth = h->cinfo.data_precision;
    out.interlaced = h->cinfo.progressive_mode ? 1 : 0;
    switch (h->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: out.color_model = CIC_MODEL_GRAY; break;
    case JCS_YCbCr:
    case JCS_RGB: out.color_model = CIC_MODEL_RGB; break;
    case JCS_CMYK: out.color_model = CIC_MODEL_CMYK; break;
    case JCS_YCCK: out.color_model = CIC_MODEL_YCCK; break;
    default: {
        char buf[96];
        snprintf(buf, sizeof buf, "unsupported JPEG colour space (%d components)", h->cinfo.num_components);
        cic_jpeg_fail(h, CIC_ERR_UNSUPPORTED, buf);
    }
    }
    if (out.bit_depth != 8) cic_jpeg_fail(h, CIC_ERR_UNSUPPORTED, "only 8-bit JPEG samples are supported");
    for (jpeg_saved_marker_ptr m = h->cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            h->exif = malloc(m->data_length - 6);
            if (!h->exif) cic_jpeg_fail(h, CIC_ERR_NOMEM, "out of memory copying the Exif block");
            memcpy(h->exif, m->data + 6, m->data_length - 6);
            h->exif_size = m->data_length - 6;
            break;
        }
    }
    h->info = out;
    *info = out;
    h->header_read = 1;
    return CIC_OK;
}

/* Pillow: JPEG CMYK is read as "CMYK;I" (Adobe inverted: ink = 255 - sample), then
   convert("RGB") computes, with nk = 255 - K,  R = nk - MULDIV255(C, nk), where
   MULDIV255(a, b) = (t + (t >> 8)) >> 8 for t = a*b + 128 (a rounded a*b/255). */
static uint8_t cic_cmyk_channel(unsigned ink, unsigned nk) {
    unsigned t = ink * nk + 128;
    unsigned prod = ((t >> 8) + t) >> 8;
    return (uint8_t)(nk >= prod ? nk - prod : 0);
}

static void cic_cmyk_row_to_rgb(const JSAMPLE *in, uint8_t *out, uint32_t width) {
    for (uint32_t x = 0; x < width; x++, in += 4, out += 3) {
        unsigned nk = in[3];             /* 255 - K with K = 255 - stored */
        out[0] = cic_cmyk_channel(255u - in[0], nk);
        out[1] = cic_cmyk_channel(255u - in[1], nk);
        out[2] = cic_cmyk_channel(255u - in[2], nk);
    }
}

int cic_jpeg_decode_rgb(cic_jpeg *h, uint8_t *out, size_t out_size) {
    if (!h || !out || !h->header_read || h->decoded) return CIC_ERR_USAGE;
    const uint32_t width = h->info.width, height = h->info.height;
    if (width == 0 || height == 0 || out_size / 3 / width != height || out_size % ((size_t)width * 3) != 0)
        return CIC_ERR_USAGE;
    h->decoded = 1;
    h->cmyk = h->info.color_model == CIC_MODEL_CMYK || h->info.color_model == CIC_MODEL_YCCK;
    if (setjmp(h->jump)) return h->code;

    /* Pillow's settings: libjpeg defaults, spelled out. */
    h->cinfo.out_color_space = h->cmyk ? JCS_CMYK : JCS_RGB;
    h->cinfo.dct_method = JDCT_ISLOW;
    h->cinfo.do_fancy_upsampling = TRUE;
    h->cinfo.do_block_smoothing = TRUE;
    h->cinfo.scale_num = 1;
    h->cinfo.scale_denom = 1;
    h->cinfo.quantize_colors = FALSE;
    h->cinfo.buffered_image = FALSE;
    jpeg_start_decompress(&h->cinfo);
    if (h->cinfo.output_width != width || h->cinfo.output_height != height ||
        h->cinfo.output_components != (h->cmyk ? 4 : 3))
        cic_jpeg_fail(h, CIC_ERR_UNSUPPORTED, "libjpeg produced an unexpected output layout");
    if (h->cmyk) {
        h->row = malloc((size_t)width * 4);
        if (!h->row) cic_jpeg_fail(h, CIC_ERR_NOMEM, "out of memory for a CMYK row");
    }
    const size_t stride = (size_t)width * 3;
    while (h->cinfo.output_scanline < height) {
        uint8_t *dst = out + (size_t)h->cinfo.output_scanline * stride;
        JSAMPROW row = h->cmyk ? h->row : dst;
        if (jpeg_read_scanlines(&h->cinfo, &row, 1) != 1)
            cic_jpeg_fail(h, CIC_ERR_CORRUPT, "libjpeg returned no scanline");
        if (h->cmyk) cic_cmyk_row_to_rgb(h->row, dst, width);
    }
    /* Every pixel row is complete. jpeg_finish_decompress would only look for EOI past
       the image data; like Pillow, a missing EOI after complete data is not an error. */
    jpeg_abort_decompress(&h->cinfo);
    return CIC_OK;
}

const uint8_t *cic_jpeg_exif(const cic_jpeg *h, size_t *size) {
    if (size) *size = 0;
    if (!h || !h->exif) return NULL;
    if (size) *size = h->exif_size;
    return h->exif;
}

const char *cic_jpeg_message(const cic_jpeg *h) { return h ? h->message : ""; }
const char *cic_jpeg_warning(const cic_jpeg *h) { return h ? h->warning : ""; }

void cic_jpeg_destroy(cic_jpeg *h) {
    if (!h) return;
    jpeg_destroy_decompress(&h->cinfo);
    free(h->row);
    free(h->exif);
    free(h);
}

/* ------------------------------------------------------------------------------------ */
/* PNG                                                                                  */
/* ------------------------------------------------------------------------------------ */

struct cic_png {
    png_structp png;
    png_infop info;
    jmp_buf jump;
    int code;
    int header_read;
    int decoded;
    const uint8_t *data;
    size_t size;
    size_t pos;
    png_bytep *rows;
    cic_image_info header;
    char message[CIC_MSG_MAX];
    char warning[CIC_MSG_MAX]; /* first libpng warning: often the detail behind an error */
};

static _Noreturn void cic_png_fail(cic_png *h, int code, const char *msg) {
    h->code = code;
    cic_copy(h->message, "", msg);
    longjmp(h->jump, 1);
}

static _Noreturn void cic_png_error(png_structp png, png_const_charp msg) {
    cic_png *h = (cic_png *)png_get_error_ptr(png);
    int code = (msg && strstr(msg, "ut of memory")) ? CIC_ERR_NOMEM : CIC_ERR_CORRUPT;
    if (h->warning[0]) {
        char both[2 * CIC_MSG_MAX];
        snprintf(both, sizeof both, "%s (%s)", msg ? msg : "", h->warning);
        cic_png_fail(h, code, both);
    }
    cic_png_fail(h, code, msg);
}

/* libpng warnings (odd ancillary chunks, known-bad sRGB profiles) do not affect pixels,
   so they are not errors; the first is kept because libpng often warns with the detail
   ("Image width is zero in IHDR") just before a generic error ("Invalid IHDR data").
   CRC errors, which libpng only warns about for ancillary chunks by default, are made
   errors by png_set_crc_action below. */
static void cic_png_warning(png_structp png, png_const_charp msg) {
    cic_png *h = (cic_png *)png_get_error_ptr(png);
    if (h && !h->warning[0]) cic_copy(h->warning, "", msg);
}

static void cic_png_read(png_structp png, png_bytep out, size_t n) {
    cic_png *h = (cic_png *)png_get_io_ptr(png);
    if (n > h->size - h->pos) png_error(png, "file ends early (truncated)");
    memcpy(out, h->data + h->pos, n);
    h->pos += n;
}

cic_png *cic_png_create(void) {
    cic_png *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    if (setjmp(h->jump)) {
        png_destroy_read_struct(&h->png, h->info ? &h->info : NULL, NULL);
        free(h);
        return NULL;
    }
    h->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, h, cic_png_error, cic_png_warning);
    if (!h->png) {
        free(h);
        return NULL;
    }
    h->info = png_create_info_struct(h->png);
    if (!h->info) {
        png_destroy_read_struct(&h->png, NULL, NULL);
        free(h);
        return NULL;
    }
    return h;
}

int cic_png_read_header(cic_png *h, const uint8_t *data, size_t size, cic_image_info *info) {
    if (!h || !data || !info || h->header_read) return CIC_ERR_USAGE;
    memset(info, 0, sizeof *info);
    h->data = data;
    h->size = size;
    h->pos = 0;
    if (setjmp(h->jump)) return h->code;
    png_set_read_fn(h->png, h, cic_png_read);
    png_set_crc_action(h->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    /* The caller applies its own limits; libpng's default (1e6 per side) would only
       replace a clear "too large" with a generic message. */
    png_set_user_limits(h->png, 0x7fffffff, 0x7fffffff);
    png_read_info(h->png, h->info);

    png_uint_32 w = 0, ht = 0;
    int depth = 0, type = 0, interlace = 0;
    png_get_IHDR(h->png, h->info, &w, &ht, &depth, &type, &interlace, NULL, NULL);
    cic_image_info out = {0};
    out.width = w;
    out.height = ht;
    out.bit_depth = depth;
    out.interlaced = interlace != PNG_INTERLACE_NONE;
    out.components = png_get_channels(h->png, h->info);
    int trns = png_get_valid(h->png, h->info, PNG_INFO_tRNS) != 0;
    switch (type) {
    case PNG_COLOR_TYPE_GRAY: out.color_model = CIC_MODEL_GRAY; out.has_transparency = trns; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: out.color_model = CIC_MODEL_GRAY_ALPHA; out.has_transparency = 1; break;
    case PNG_COLOR_TYPE_RGB: out.color_model = CIC_MODEL_RGB; out.has_transparency = trns; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: out.color_model = CIC_MODEL_RGBA; out.has_transparency = 1; break;
    case PNG_COLOR_TYPE_PALETTE: out.color_model = CIC_MODEL_PALETTE; out.has_transparency = trns; break;
    default: cic_png_fail(h, CIC_ERR_UNSUPPORTED, "unknown PNG colour type");
    }
    h->header = out;
    *info = out;
    h->header_read = 1;
    return CIC_OK;
}

int cic_png_decode_rgb(cic_png *h, uint8_t *out, size_t out_size) {
    if (!h || !out || !h->header_read || h->decoded) return CIC_ERR_USAGE;
    const uint32_t width = h->header.width, height = h->header.height;
    if (width == 0 || height == 0 || out_size / 3 / width != height || out_size % ((size_t)width * 3) != 0)
        return CIC_ERR_USAGE;
    h->decoded = 1;
    if (setjmp(h->jump)) return h->code;

    const int model = h->header.color_model;
    if (h->header.bit_depth == 16) png_set_strip_16(h->png); /* high byte, as Pillow's ;16B */
    if (model == CIC_MODEL_PALETTE) png_set_palette_to_rgb(h->png);
    if (model == CIC_MODEL_GRAY || model == CIC_MODEL_GRAY_ALPHA) {
        if (h->header.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(h->png);
        png_set_gray_to_rgb(h->png);
    }
    png_set_strip_alpha(h->png); /* dropped, not composited (Pillow RGBA -> RGB) */
    png_set_interlace_handling(h->png);
    png_read_update_info(h->png, h->info);
    if (png_get_channels(h->png, h->info) != 3 || png_get_bit_depth(h->png, h->info) != 8 ||
        png_get_rowbytes(h->png, h->info) != (size_t)width * 3)
        cic_png_fail(h, CIC_ERR_UNSUPPORTED, "libpng produced an unexpected row layout");

    h->rows = malloc((size_t)height * sizeof *h->rows);
    if (!h->rows) cic_png_fail(h, CIC_ERR_NOMEM, "out of memory for row pointers");
    for (uint32_t y = 0; y < height; y++) h->rows[y] = out + (size_t)y * width * 3;
    png_read_image(h->png, h->rows);
    /* Reads (and CRC-checks) the chunks after the image data up to IEND, eXIf included. */
    png_read_end(h->png, h->info);
    return CIC_OK;
}

const uint8_t *cic_png_exif(const cic_png *h, size_t *size) {
    if (size) *size = 0;
    if (!h || !h->header_read) return NULL;
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    if (!png_get_eXIf_1(h->png, h->info, &n, &exif) || !exif) return NULL;
    if (size) *size = n;
    return exif;
}

const char *cic_png_message(const cic_png *h) { return h ? h->message : ""; }

void cic_png_destroy(cic_png *h) {
    if (!h) return;
    png_destroy_read_struct(&h->png, &h->info, NULL);
    free(h->rows);
    free(h);
}

/* ------------------------------------------------------------------------------------ */
/* JPEG encoding                                                                        */
/* ------------------------------------------------------------------------------------ */

struct cic_jpeg_writer {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    struct jpeg_destination_mgr dest;
    jmp_buf jump;
    uint8_t *data;     /* our growing output buffer: freed here on failure */
    size_t capacity;
    size_t size;
    char message[CIC_MSG_MAX];
};

/* As for decoding: never exit(), return to the encoder's setjmp. */
static _Noreturn void cic_jpeg_writer_error_exit(j_common_ptr c) {
    struct cic_jpeg_writer *w = (struct cic_jpeg_writer *)c->client_data;
    char buf[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, buf);
    cic_copy(w->message, "", buf);
    longjmp(w->jump, 1);
}

static void cic_jpeg_writer_silent(j_common_ptr c, int level) {
    (void)c;
    (void)level;
}

static void cic_jpeg_writer_grow(j_compress_ptr c, size_t capacity) {
    struct cic_jpeg_writer *w = (struct cic_jpeg_writer *)c->client_data;
    uint8_t *grown = realloc(w->data, capacity);
    if (!grown) ERREXIT(c, JERR_OUT_OF_MEMORY);
    size_t used = w->capacity - w->dest.free_in_buffer;
    w->data = grown;
    w->capacity = capacity;
    w->dest.next_output_byte = grown + used;
    w->dest.free_in_buffer = capacity - used;
}

static void cic_jpeg_writer_init(j_compress_ptr c) {
    struct cic_jpeg_writer *w = (struct cic_jpeg_writer *)c->client_data;
    w->dest.free_in_buffer = 0;
    w->capacity = 0;
    cic_jpeg_writer_grow(c, 1 << 16);
}

/* Called when the buffer is full (free_in_buffer is 0 then). */
static boolean cic_jpeg_writer_empty(j_compress_ptr c) {
    struct cic_jpeg_writer *w = (struct cic_jpeg_writer *)c->client_data;
    w->dest.free_in_buffer = 0;
    cic_jpeg_writer_grow(c, w->capacity * 2);
    return TRUE;
}

static void cic_jpeg_writer_term(j_compress_ptr c) {
    struct cic_jpeg_writer *w = (struct cic_jpeg_writer *)c->client_data;
    w->size = w->capacity - w->dest.free_in_buffer;
}

int cic_jpeg_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
                        uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    if (!rgb || !out || !out_size || width == 0 || height == 0) return CIC_ERR_USAGE;
    struct cic_jpeg_writer *w = calloc(1, sizeof *w);
    if (!w) return CIC_ERR_NOMEM;
    w->cinfo.err = jpeg_std_error(&w->err);
    w->err.error_exit = cic_jpeg_writer_error_exit;
    w->err.emit_message = cic_jpeg_writer_silent;
    w->cinfo.client_data = w;
    if (setjmp(w->jump)) {
        if (message && message_size) snprintf(message, message_size, "%s", w->message);
        jpeg_destroy_compress(&w->cinfo);
        free(w->data);
        free(w);
        return CIC_ERR_CORRUPT;
    }
    jpeg_create_compress(&w->cinfo);
    w->dest.init_destination = cic_jpeg_writer_init;
    w->dest.empty_output_buffer = cic_jpeg_writer_empty;
    w->dest.term_destination = cic_jpeg_writer_term;
    w->cinfo.dest = &w->dest;
    w->cinfo.image_width = width;
    w->cinfo.image_height = height;
    w->cinfo.input_components = 3;
    w->cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&w->cinfo);
    jpeg_set_quality(&w->cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&w->cinfo, TRUE);
    while (w->cinfo.next_scanline < height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)w->cinfo.next_scanline * width * 3);
        jpeg_write_scanlines(&w->cinfo, &row, 1);
    }
    jpeg_finish_compress(&w->cinfo);
    jpeg_destroy_compress(&w->cinfo);
    *out = w->data;
    *out_size = w->size;
    free(w);
    return CIC_OK;
}

void cic_free(void *p) { free(p); }

/* ------------------------------------------------------------------------------------ */
/* PNG encoding                                                                         */
/* ------------------------------------------------------------------------------------ */

struct cic_png_writer {
    jmp_buf jump;
    uint8_t *data;     /* our growing output buffer: freed here on failure */
    size_t capacity;
    size_t size;
    char message[CIC_MSG_MAX];
};

/* As for decoding: never return into libpng after an error, go back to the setjmp. */
static _Noreturn void cic_png_writer_error(png_structp png, png_const_charp msg) {
    struct cic_png_writer *w = (struct cic_png_writer *)png_get_error_ptr(png);
    cic_copy(w->message, "", msg);
    longjmp(w->jump, 1);
}

static void cic_png_writer_silent(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void cic_png_writer_append(png_structp png, png_bytep bytes, size_t n) {
    struct cic_png_writer *w = (struct cic_png_writer *)png_get_io_ptr(png);
    if (n > w->capacity - w->size) {
        size_t capacity = w->capacity ? w->capacity : 1 << 16;
        while (n > capacity - w->size) capacity *= 2;
        uint8_t *grown = realloc(w->data, capacity);
        if (!grown) png_error(png, "out of memory for the encoded PNG");
        w->data = grown;
        w->capacity = capacity;
    }
    memcpy(w->data + w->size, bytes, n);
    w->size += n;
}

static void cic_png_writer_flush(png_structp png) { (void)png; }

int cic_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height,
                       uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    if (!rgb || !out || !out_size || width == 0 || height == 0) return CIC_ERR_USAGE;
    struct cic_png_writer *w = calloc(1, sizeof *w);
    if (!w) return CIC_ERR_NOMEM;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w, cic_png_writer_error, cic_png_writer_silent);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(w);
        return CIC_ERR_NOMEM;
    }
    /* png and info are not changed after this setjmp, so they are valid after a longjmp. */
    if (setjmp(w->jump)) {
        if (message && message_size) snprintf(message, message_size, "%s", w->message);
        png_destroy_write_struct(&png, &info);
        free(w->data);
        free(w);
        return CIC_ERR_CORRUPT;
    }
    png_set_write_fn(png, w, cic_png_writer_append, cic_png_writer_flush);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out = w->data;
    *out_size = w->size;
    free(w);
    return CIC_OK;
}
