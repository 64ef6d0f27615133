#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
/* C side of the image decoders. libjpeg and libpng report errors by longjmp, which Swift
   cannot catch, so the setjmp/longjmp boundary lives here and every failure comes back
   as a return code plus a message kept in the decoder handle. libwebp returns status codes
   itself; its failures come back the same way.

   Two phases, so the caller can check size limits before any pixel memory exists:
     h = cic_jpeg_create();
     cic_jpeg_read_header(h, data, size, &info);     -> width, height, colour model
     ... caller checks info against its limits, allocates width*height*3 bytes ...
     cic_jpeg_decode_rgb(h, out, out_size);          -> 8-bit RGB, row-major, top row first
     cic_jpeg_exif(h, &n);                           -> TIFF bytes of the Exif APP1, or NULL
     cic_jpeg_destroy(h);
   The same for PNG with cic_png_* and WebP with cic_webp_*. `data` must stay valid and
   unchanged until destroy.
   Neither phase allocates the output image; header reading allocates only what libjpeg /
   libpng need for the headers (libwebp's header reading allocates nothing). */

#include <stddef.h>
#include <stdint.h>

/* Return codes. */
enum {
    CIC_OK = 0,
    CIC_ERR_CORRUPT = 1,     /* not a valid file of the format, truncated, bad CRC, corrupt data */
    CIC_ERR_UNSUPPORTED = 2, /* valid but a variant this decoder does not turn into RGB */
    CIC_ERR_NOMEM = 3,       /* the library could not allocate its working memory */
    CIC_ERR_USAGE = 4        /* calls out of order, or an output buffer of the wrong size */
};

/* Colour model of the stored samples (before conversion to RGB). */
enum {
    CIC_MODEL_GRAY = 1,       /* JPEG grayscale, PNG gray (maybe + tRNS) */
    CIC_MODEL_GRAY_ALPHA = 2, /* PNG gray + alpha */
    CIC_MODEL_RGB = 3,        /* JPEG YCbCr or RGB, PNG truecolour, WebP without alpha */
    CIC_MODEL_RGBA = 4,       /* PNG truecolour + alpha, WebP with alpha */
    CIC_MODEL_PALETTE = 5,    /* PNG indexed colour (maybe + tRNS) */
    CIC_MODEL_CMYK = 6,       /* JPEG CMYK (Adobe convention: stored inverted) */
    CIC_MODEL_YCCK = 7        /* JPEG YCCK (Adobe, as Photoshop writes CMYK) */
};

/* What the header says. */
typedef struct cic_image_info {
    uint32_t width;
    uint32_t height;
    int32_t color_model;   /* CIC_MODEL_* */
    int32_t components;    /* samples per pixel in the file (palette: 1) */
    int32_t bit_depth;     /* bits per sample: 8 for JPEG and WebP; 1, 2, 4, 8 or 16 for PNG */
    int32_t interlaced;    /* JPEG: progressive; PNG: Adam7; WebP: 0 */
    int32_t has_transparency; /* PNG: alpha channel or tRNS; WebP: alpha (dropped in the RGB output) */
} cic_image_info;

typedef struct cic_jpeg cic_jpeg;
typedef struct cic_png cic_png;
typedef struct cic_webp cic_webp;

/* JPEG (libjpeg API). Decodes with JDCT_ISLOW and fancy upsampling, as Pillow does.
   Gray -> R=G=B; YCbCr/RGB -> RGB; CMYK/YCCK -> RGB by Pillow's convert("RGB") formula
   on Adobe-inverted samples. Corrupt-data warnings (premature end of file, premature end
   of a data segment, bad Huffman/arithmetic code, lost restart marker) are errors; other
   warnings are tolerated and the first is kept (cic_jpeg_warning). Reading stops after the
   last pixel row, so a missing EOI marker is not an error. Over 1000 progressive scans is. */
cic_jpeg *cic_jpeg_create(void);
int cic_jpeg_read_header(cic_jpeg *h, const uint8_t *data, size_t size, cic_image_info *info);
int cic_jpeg_decode_rgb(cic_jpeg *h, uint8_t *out, size_t out_size);
/* TIFF structure of the first APP1 "Exif\0\0" marker (without that prefix), or NULL.
   Available once the header is read (a copy: libjpeg frees its saved markers when decoding
   ends); valid until cic_jpeg_destroy. */
const uint8_t *cic_jpeg_exif(const cic_jpeg *h, size_t *size);
/* Message of the last failure ("" if none). */
const char *cic_jpeg_message(const cic_jpeg *h);
/* First tolerated libjpeg warning ("" if none). */
const char *cic_jpeg_warning(const cic_jpeg *h);
void cic_jpeg_destroy(cic_jpeg *h);

/* Encodes 8-bit RGB (width * height * 3 bytes, rows top first) as a baseline JPEG of the
   given quality (1-100) into a malloc'ed buffer (*out, *out_size; release with
   cic_free). Returns CIC_OK, or an error code with the message in `message`. */
int cic_jpeg_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
                        uint8_t **out, size_t *out_size, char *message, size_t message_size);
void cic_free(void *p);

/* Encodes 8-bit RGB (width * height * 3 bytes, rows top first) as an 8-bit truecolour,
   non-interlaced PNG (lossless) into a malloc'ed buffer, released with cic_free. Returns
   as cic_jpeg_encode_rgb does. */
int cic_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height,
                       uint8_t **out, size_t *out_size, char *message, size_t message_size);

/* PNG (libpng). 16-bit samples keep their high byte (Pillow's RGB;16B unpacking);
   1/2/4-bit gray is scaled to 0..255; palette -> its RGB entries; alpha and tRNS are
   dropped, not composited. No gamma correction. Any CRC error, ancillary chunks
   included, is an error; so is a file that ends before IEND. */
cic_png *cic_png_create(void);
int cic_png_read_header(cic_png *h, const uint8_t *data, size_t size, cic_image_info *info);
int cic_png_decode_rgb(cic_png *h, uint8_t *out, size_t out_size);
/* TIFF structure of the eXIf chunk, or NULL. After decode it also covers an eXIf that
   follows the image data. Valid until cic_png_destroy. */
const uint8_t *cic_png_exif(const cic_png *h, size_t *size);
const char *cic_png_message(const cic_png *h);
void cic_png_destroy(cic_png *h);

/* WebP (libwebp's WebPGetFeatures, then WebPDecode into the caller's buffer as MODE_RGB):
   lossy (VP8) and lossless (VP8L), with or without alpha, which is dropped, not
   composited. libwebp's default YUV -> RGB conversion (fancy chroma upsampling), which is
   also what Pillow decodes with. Animated WebP is refused as CIC_ERR_UNSUPPORTED by
   cic_webp_read_header. Truncated data (the RIFF size past the end, a partition cut short)
   and bitstream errors are CIC_ERR_CORRUPT. */
cic_webp *cic_webp_create(void);
int cic_webp_read_header(cic_webp *h, const uint8_t *data, size_t size, cic_image_info *info);
int cic_webp_decode_rgb(cic_webp *h, uint8_t *out, size_t out_size);
/* TIFF structure of the EXIF chunk of an extended (VP8X) file, without an "Exif\0\0"
   prefix if the writer added one, or NULL. Available once the header is read; points into
   `data`, so valid until cic_webp_destroy. */
const uint8_t *cic_webp_exif(const cic_webp *h, size_t *size);
const char *cic_webp_message(const cic_webp *h);
void cic_webp_destroy(cic_webp *h);

#endif
