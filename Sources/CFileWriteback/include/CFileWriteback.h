#ifndef CFILEWRITEBACK_H
#define CFILEWRITEBACK_H

/// Starts writing the dirty pages of a file's byte range to the disk without
/// waiting for them: `sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE` on
/// Linux, which Swift's Glibc module does not export (it needs
/// `_GNU_SOURCE`). Nothing elsewhere. A hint only: it makes nothing durable
/// (that takes `fsync`), and its result may be ignored.
///
/// Returns 0, or -1 with `errno` set.
int cairn_start_writeback(int fd, long long offset, long long length);

/// Writes the dirty pages of a file's byte range to the disk and waits for
/// them (`sync_file_range(2)` with `SYNC_FILE_RANGE_WAIT_BEFORE`,
/// `SYNC_FILE_RANGE_WRITE` and `SYNC_FILE_RANGE_WAIT_AFTER`) on Linux; nothing
/// elsewhere. Makes nothing durable either (no metadata, no device cache
/// flush): it only paces writeback.
///
/// Returns 0, or -1 with `errno` set.
int cairn_write_back_and_wait(int fd, long long offset, long long length);

#endif
