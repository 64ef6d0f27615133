#ifndef CSHA256_H
#define CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the x86 SHA extensions (and SSSE3, SSE4.1) that
/// csha256_compress_hardware needs; 0 otherwise (and on other architectures).
int csha256_hardware_available(void);

/// SHA-256 compression of `blocks` consecutive 64-byte blocks into `state` (the eight
/// working words H0..H7), with the SHA-NI instructions. Call only when
/// csha256_hardware_available() is 1; elsewhere it does nothing.
void csha256_compress_hardware(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
