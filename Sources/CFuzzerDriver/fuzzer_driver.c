// Declarations only (include/fuzzer_driver.h): the definitions are libFuzzer's.
#include "fuzzer_driver.h"
