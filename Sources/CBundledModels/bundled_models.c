/* See include/CBundledModels.h. `#embed` (C23; clang 19+) reads each file at compile time;
   the build's dependency tracking sees the files, so editing one rebuilds this target. */
#include "CBundledModels.h"

#pragma clang diagnostic ignored "-Wc23-extensions"

static const unsigned char pnet_h5[] = {
#embed "../../Weights/mtcnn/pnet.h5"
};
static const unsigned char pnet_json[] = {
#embed "../../Weights/mtcnn/pnet.json"
};
static const unsigned char rnet_h5[] = {
#embed "../../Weights/mtcnn/rnet.h5"
};
static const unsigned char rnet_json[] = {
#embed "../../Weights/mtcnn/rnet.json"
};
static const unsigned char onet_h5[] = {
#embed "../../Weights/mtcnn/onet.h5"
};
static const unsigned char onet_json[] = {
#embed "../../Weights/mtcnn/onet.json"
};
static const unsigned char facenet512_json[] = {
#embed "../../Weights/facenet512.json"
};
static const unsigned char facenet128_json[] = {
#embed "../../Weights/facenet128.json"
};

struct bundled_file {
    const char *name;
    const unsigned char *bytes;
    size_t size;
};

#define BUNDLED(name, array) { name, array, sizeof(array) }
static const struct bundled_file files[] = {
    BUNDLED("mtcnn/pnet.h5", pnet_h5),
    BUNDLED("mtcnn/pnet.json", pnet_json),
    BUNDLED("mtcnn/rnet.h5", rnet_h5),
    BUNDLED("mtcnn/rnet.json", rnet_json),
    BUNDLED("mtcnn/onet.h5", onet_h5),
    BUNDLED("mtcnn/onet.json", onet_json),
    BUNDLED("facenet512.json", facenet512_json),
    BUNDLED("facenet128.json", facenet128_json),
};

size_t cbm_file_count(void) { return sizeof(files) / sizeof(files[0]); }

const unsigned char *cbm_file(size_t index, size_t *size) {
    if (index >= cbm_file_count()) return NULL;
    *size = files[index].size;
    return files[index].bytes;
}

const char *cbm_file_name(size_t index) {
    return index < cbm_file_count() ? files[index].name : NULL;
}
