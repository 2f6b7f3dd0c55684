// CRC32C (Castagnoli), the checksum of Ganglion record batches (as Kafka's v2 batches use).
// Uses the CPU's crc32 instruction (SSE4.2 on x86-64, CRC extension on AArch64) when present,
// and a table-driven implementation otherwise.
#ifndef GANGLION_CCRC32C_H
#define GANGLION_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Extends `crc` (0 to start) over `length` bytes at `data`.
uint32_t ganglion_crc32c(uint32_t crc, const void *data, size_t length);

/// Whether the hardware instruction is used (for benchmark reports).
int ganglion_crc32c_is_hardware(void);

#endif
