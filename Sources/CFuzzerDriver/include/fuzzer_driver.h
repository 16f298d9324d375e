#ifndef SURVEYCHARTS_FUZZER_DRIVER_H
#define SURVEYCHARTS_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (in clang's libFuzzer runtime, linked by -sanitize=fuzzer). SwiftPM names an
/// executable's entry point itself, so `surveycharts-fuzz` calls the driver from that entry point
/// instead of linking libFuzzer's own main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
