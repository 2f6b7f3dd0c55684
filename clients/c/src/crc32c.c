/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of a Kafka v2 record batch.
 * Slicing-by-8 tables, built once; no hardware instructions, so it runs on any edge CPU. */
#include "internal.h"

#include <pthread.h>
#include <string.h>

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        crc_table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = crc_table[0][n];
        for (int slice = 1; slice < 8; slice++) {
            crc = crc_table[0][crc & 0xFF] ^ (crc >> 8);
            crc_table[slice][n] = crc;
        }
    }
}

uint32_t gl_crc32c(uint32_t crc, const void *data, size_t length) {
    pthread_once(&crc_table_once, crc_table_build);
    const uint8_t *p = data;
    crc = ~crc;
    while (length >= 8) {
        /* Little-endian words regardless of the host's byte order. */
        uint32_t low = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        uint32_t high = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        low ^= crc;
        crc = crc_table[7][low & 0xFF] ^ crc_table[6][(low >> 8) & 0xFF] ^ crc_table[5][(low >> 16) & 0xFF] ^
              crc_table[4][low >> 24] ^ crc_table[3][high & 0xFF] ^ crc_table[2][(high >> 8) & 0xFF] ^
              crc_table[1][(high >> 16) & 0xFF] ^ crc_table[0][high >> 24];
        p += 8;
        length -= 8;
    }
    while (length--) crc = crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
