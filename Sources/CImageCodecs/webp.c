/* WebP (libwebp) decoding from memory into 8-bit RGB.
   libwebp reports every failure as a VP8StatusCode return value (no longjmp, no callback),
   so there is no setjmp here; the code becomes a CIC_ERR_* code plus a message kept in the
   handle, as for JPEG and PNG. */

#include "CImageCodecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#define CIC_WEBP_MSG_MAX 256

struct cic_webp {
    const uint8_t *data; /* the caller's bytes: valid until cic_webp_destroy */
    size_t size;
    int header_read;
    int decoded;
    const uint8_t *exif; /* into `data` */
    size_t exif_size;
    cic_image_info info;
    char message[CIC_WEBP_MSG_MAX];
};

static int cic_webp_fail(cic_webp *h, int code, const char *msg) {
    snprintf(h->message, sizeof h->message, "%s", msg);
    return code;
}

/* libwebp's status as our code and a message; `phase` says which call failed. */
static int cic_webp_status(cic_webp *h, VP8StatusCode status, const char *phase) {
    int code = CIC_ERR_CORRUPT;
    const char *what;
    switch (status) {
    case VP8_STATUS_OK: return CIC_OK;
    case VP8_STATUS_OUT_OF_MEMORY: code = CIC_ERR_NOMEM; what = "libwebp ran out of memory"; break;
    case VP8_STATUS_INVALID_PARAM: what = "invalid parameter (a malformed header field)"; break;
    case VP8_STATUS_BITSTREAM_ERROR: what = "invalid WebP data (bitstream error)"; break;
    case VP8_STATUS_UNSUPPORTED_FEATURE: code = CIC_ERR_UNSUPPORTED; what = "a feature libwebp cannot decode"; break;
    /* With all the data given, SUSPENDED also means that some of it is missing. A corrupt
       chunk or partition size reads the same way as a cut file. */
    case VP8_STATUS_SUSPENDED:
    case VP8_STATUS_NOT_ENOUGH_DATA: what = "the data ends early (truncated, or a corrupt size field)"; break;
    case VP8_STATUS_USER_ABORT: what = "decoding aborted"; break;
    default: what = "unknown libwebp error"; break;
    }
    char buf[CIC_WEBP_MSG_MAX];
    snprintf(buf, sizeof buf, "%s (libwebp status %d while %s)", what, (int)status, phase);
    return cic_webp_fail(h, code, buf);
}

static uint32_t cic_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The payload of the first EXIF chunk of an extended (VP8X) file, without the "Exif\0\0"
   prefix some writers add (the format says the chunk holds the TIFF bytes alone; Pillow
   reads both). A simple (VP8 / VP8L) file has no room for metadata. The walk stops at the
   first chunk that does not fit in the data or in the RIFF size. */
static void cic_webp_find_exif(cic_webp *h) {
    const uint8_t *d = h->data;
    if (h->size < 20 || memcmp(d + 12, "VP8X", 4) != 0) return;
    size_t end = h->size;
    uint32_t riff = cic_le32(d + 4);
    if ((size_t)riff < end - 8) end = (size_t)riff + 8;
    size_t pos = 12;
    while (pos <= end && end - pos >= 8) {
        size_t payload = pos + 8;
        size_t length = cic_le32(d + pos + 4);
        if (length > end - payload) return;
        if (memcmp(d + pos, "EXIF", 4) == 0) {
            const uint8_t *p = d + payload;
            if (length >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
                p += 6;
                length -= 6;
            }
            h->exif = length ? p : NULL;
            h->exif_size = length;
            return;
        }
        size_t padded = length + (length & 1); /* chunks are padded to an even size */
        if (padded > end - payload) return;
        pos = payload + padded;
    }
}

cic_webp *cic_webp_create(void) { return calloc(1, sizeof(cic_webp)); }

int cic_webp_read_header(cic_webp *h, const uint8_t *data, size_t size, cic_image_info *info) {
    if (!h || !data || !info || h->header_read) return CIC_ERR_USAGE;
    memset(info, 0, sizeof *info);
    h->data = data;
    h->size = size;
    WebPBitstreamFeatures features;
    int code = cic_webp_status(h, WebPGetFeatures(data, size, &features), "reading the header");
    if (code != CIC_OK) return code;
    /* Refused here, before any pixel memory: the simple API decodes no animation, and
       picking a frame would need libwebpdemux and compositing onto the canvas. */
    if (features.has_animation)
        return cic_webp_fail(h, CIC_ERR_UNSUPPORTED,
                             "animated WebP is not supported (save the frame you want as a still image)");
    if (features.width <= 0 || features.height <= 0) {
        char buf[96];
        snprintf(buf, sizeof buf, "WebP header gives a size of %d×%d", features.width, features.height);
        return cic_webp_fail(h, CIC_ERR_CORRUPT, buf);
    }
    cic_image_info out = {0};
    out.width = (uint32_t)features.width;
    out.height = (uint32_t)features.height;
    out.color_model = features.has_alpha ? CIC_MODEL_RGBA : CIC_MODEL_RGB;
    out.components = features.has_alpha ? 4 : 3;
    out.bit_depth = 8;
    out.interlaced = 0;
    out.has_transparency = features.has_alpha ? 1 : 0;
    cic_webp_find_exif(h);
    h->info = out;
    *info = out;
    h->header_read = 1;
    return CIC_OK;
}

int cic_webp_decode_rgb(cic_webp *h, uint8_t *out, size_t out_size) {
    if (!h || !out || !h->header_read || h->decoded) return CIC_ERR_USAGE;
    const uint32_t width = h->info.width, height = h->info.height;
    if (width == 0 || height == 0 || out_size / 3 / width != height || out_size % ((size_t)width * 3) != 0)
        return CIC_ERR_USAGE;
    h->decoded = 1;
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config))
        return cic_webp_fail(h, CIC_ERR_UNSUPPORTED, "libwebp's decoder ABI does not match its header");
    /* libwebp's defaults otherwise (fancy chroma upsampling, no dithering), as in Pillow,
       which decodes through libwebp's WebPAnimDecoder; alpha is not asked for, so dropped. */
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = out;
    config.output.u.RGBA.stride = (int)((size_t)width * 3);
    config.output.u.RGBA.size = out_size;
    VP8StatusCode status = WebPDecode(h->data, h->size, &config);
    int layout_ok = config.output.width == (int)width && config.output.height == (int)height;
    WebPFreeDecBuffer(&config.output); /* nothing to free with external memory; kept for form */
    int code = cic_webp_status(h, status, "decoding the pixels");
    if (code != CIC_OK) return code;
    if (!layout_ok) return cic_webp_fail(h, CIC_ERR_CORRUPT, "libwebp decoded a size other than the header's");
    return CIC_OK;
}

const uint8_t *cic_webp_exif(const cic_webp *h, size_t *size) {
    if (size) *size = 0;
    if (!h || !h->exif) return NULL;
    if (size) *size = h->exif_size;
    return h->exif;
}

const char *cic_webp_message(const cic_webp *h) { return h ? h->message : ""; }

void cic_webp_destroy(cic_webp *h) { free(h); }
