/* le: little-endian fixed-width fields of psrec's file formats (checkpoints, .psrb blocks).
 * CMake refuses big-endian hosts, so a field is the host's own bytes; memcpy keeps unaligned
 * access defined. */
#ifndef PSR_LE_H
#define PSR_LE_H

#include <stdint.h>
#include <string.h>

static inline void psr_put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void psr_put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t psr_get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t psr_get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#endif
