/*
 * CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and SCTP), used by the
 * spool to check every record.  The SSE4.2 instruction is used when the
 * CPU has it; otherwise a portable table-driven (slicing-by-8) version.
 */
#ifndef GW_CRC32C_H
#define GW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns the CRC-32C of data[0..len) continued from crc (0 to start), so
 * that crc32c(crc32c(0, a, n), b, m) is the CRC of a followed by b.
 * crc32c(0, "123456789", 9) == 0xe3069283.  Thread-safe.
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The portable version, whatever the CPU (for tests and benchmarks). */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
