// libsodium, imported whole; only Cryptography links it.
#ifndef CSODIUM_H
#define CSODIUM_H
#include <sodium.h>
#endif
