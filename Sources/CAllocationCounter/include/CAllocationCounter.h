#ifndef CALLOCATIONCOUNTER_H
#define CALLOCATIONCOUNTER_H
#include <stdint.h>
/* Counts heap allocations of the whole process while enabled. Linking this target into an
   executable interposes malloc & co. (glibc: an executable's definitions win over libc's),
   forwarding to glibc's __libc_* entry points. Used by the benchmarks only. */
void facenet_allocation_counting(int enabled);
uint64_t facenet_allocation_count(void);
/* 1 when the interposer is active (the platform supports it). */
int facenet_allocation_counter_available(void);
#endif
