/* OpenBLAS's CBLAS declarations, for its enums and signatures only. The library itself is
   not linked: FaceNetKit loads it with dlopen after choosing its kernel set, because
   OpenBLAS picks kernels in a constructor that runs as soon as it is loaded. */
#include <cblas.h>
