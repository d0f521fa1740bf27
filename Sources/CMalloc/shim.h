#ifndef EDDY_CMALLOC_SHIM_H
#define EDDY_CMALLOC_SHIM_H
#include <malloc.h>

/// Serves every allocation of 128KB or more with its own mapping, returned to
/// the system when freed, for the life of the process.
///
/// Why: glibc starts with that threshold but raises it (up to 32MB) each time
/// such a mapping is freed. After the first batches, a lane's block buffers
/// (megabytes each, made and freed every batch) come from the thread's heap
/// instead, which keeps their pages after they are freed. On two lanes at
/// 250k lines/s that holds about 20MB of RSS for no gain; the fixed threshold
/// costs no measurable time (README, Performance). Returns mallopt's 1 on
/// success.
static inline int eddy_malloc_fix_mmap_threshold(void) {
    return mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

#endif
