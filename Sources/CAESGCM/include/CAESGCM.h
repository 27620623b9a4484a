// AES-256-GCM through OpenSSL's libcrypto (EVP), for large records: on this machine kind it seals
// 16–64 KiB records two to three times as fast as libsodium's implementation, which stays in use
// for small ones (equal there) and for everything else. The same algorithm, nonces, tags and
// additional data: a record sealed by either opens with the other.
#ifndef CAESGCM_H
#define CAESGCM_H

#include <stddef.h>
#include <stdint.h>

typedef struct ansar_aesgcm ansar_aesgcm;

// A key's contexts, made on first use of each direction; NULL when out of memory.
ansar_aesgcm *ansar_aesgcm_new(const uint8_t key[32]);
void ansar_aesgcm_free(ansar_aesgcm *aes);
// Replaces the key (in every context made so far).
int ansar_aesgcm_rekey(ansar_aesgcm *aes, const uint8_t key[32]);

// Encrypts `length` bytes from `input` into `output` (they may be the same) and writes the
// 16-byte tag to `tag`. 0 on success, -1 if libcrypto failed (nothing is then usable).
int ansar_aesgcm_seal(ansar_aesgcm *aes, uint8_t *output, uint8_t tag[16], const uint8_t *input, size_t length,
                      const uint8_t *additional, size_t additional_length, const uint8_t nonce[12]);

// Decrypts `length` bytes in place and checks `tag`: 0 if authentic, -1 if not (the bytes are
// then garbage) or if libcrypto failed.
int ansar_aesgcm_open(ansar_aesgcm *aes, uint8_t *bytes, size_t length, const uint8_t tag[16],
                      const uint8_t *additional, size_t additional_length, const uint8_t nonce[12]);

#endif
