#define _GNU_SOURCE
#include <fcntl.h>
#include "CFileWriteback.h"

#ifndef __linux__
#define SYNC_FILE_RANGE_WAIT_BEFORE 0
#define SYNC_FILE_RANGE_WRITE 0
#define SYNC_FILE_RANGE_WAIT_AFTER 0
#endif

/// `sync_file_range(2)` with `flags` on Linux; nothing elsewhere.
static int write_back(int fd, long long offset, long long length, unsigned int flags) {
#ifdef __linux__
    return sync_file_range(fd, offset, length, flags);
#else
    (void)fd;
    (void)offset;
    (void)length;
    (void)flags;
    return 0;
#endif
}

int cairn_start_writeback(int fd, long long offset, long long length) {
    return write_back(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int cairn_write_back_and_wait(int fd, long long offset, long long length) {
    return write_back(fd, offset, length,
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}
