#ifndef CAIRN_CMALLOC_SHIM_H
#define CAIRN_CMALLOC_SHIM_H
// glibc's allocator controls (mallopt), which Glibc's Swift module leaves out.
#include <malloc.h>
#endif
