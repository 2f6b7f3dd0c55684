/* Kafka's default partitioner: MurmurHash2 (32-bit, seed 0x9747b28c) of the key bytes, made
 * positive, modulo the partition count — as Utils.murmur2 and Ganglion's KeyPartitioner. */
#include "internal.h"

int32_t ganglion_murmur2(const void *key, size_t length) {
    const uint8_t *bytes = key;
    const uint32_t m = 0x5BD1E995u;
    const int r = 24;
    uint32_t h = 0x9747B28Cu ^ (uint32_t)length;
    size_t blocks = length / 4;
    for (size_t block = 0; block < blocks; block++) {
        const uint8_t *b = bytes + block * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = bytes + blocks * 4;
    switch (length % 4) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)tail[0];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

uint32_t ganglion_partition_for_key(const void *key, size_t length, uint32_t partition_count) {
    if (partition_count == 0) return 0;
    return ((uint32_t)ganglion_murmur2(key, length) & 0x7FFFFFFFu) % partition_count;
}
