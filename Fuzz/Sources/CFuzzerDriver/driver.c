// Header-only target: LLVMFuzzerRunDriver comes from libclang_rt.fuzzer, linked by
// `-sanitize=fuzzer`. SwiftPM needs one source file to build the module.
#include "CFuzzerDriver.h"
