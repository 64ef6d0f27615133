#ifndef CBUNDLEDMODELS_H
#define CBUNDLEDMODELS_H
/* Model files compiled into the library, byte for byte, so detection and the presets'
   topologies need no directory: a `facenet` binary copied on its own, or an app that
   depends on the package, finds them in its own image. (SwiftPM resources would be files
   beside the binary, which a copied binary loses.) The bytes come from Weights/ by C23
   `#embed`; FaceNetEngine's `BundledModelFile` is the Swift side.

   cbm_file(index, &size) -> the bytes of file `index` (0 ..< cbm_file_count()), or NULL.
   cbm_file_name(index)   -> its path below Weights/, e.g. "mtcnn/pnet.h5". */

#include <stddef.h>

size_t cbm_file_count(void);
const unsigned char *cbm_file(size_t index, size_t *size);
const char *cbm_file_name(size_t index);

#endif
