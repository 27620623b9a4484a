#include "CAESGCM.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct ansar_aesgcm {
    EVP_CIPHER_CTX *seal;
    EVP_CIPHER_CTX *open;
    uint8_t key[32];
};

ansar_aesgcm *ansar_aesgcm_new(const uint8_t key[32]) {
    ansar_aesgcm *aes = calloc(1, sizeof *aes);
    if (aes) memcpy(aes->key, key, sizeof aes->key);
    return aes;
}

void ansar_aesgcm_free(ansar_aesgcm *aes) {
    if (!aes) return;
    EVP_CIPHER_CTX_free(aes->seal); // clears the key schedule too
    EVP_CIPHER_CTX_free(aes->open);
    OPENSSL_cleanse(aes->key, sizeof aes->key);
    free(aes);
}

// A direction's context with the key schedule expanded once; later records only set the nonce.
static EVP_CIPHER_CTX *context(ansar_aesgcm *aes, int encrypt) {
    EVP_CIPHER_CTX **slot = encrypt ? &aes->seal : &aes->open;
    if (*slot) return *slot;
    EVP_CIPHER_CTX *made = EVP_CIPHER_CTX_new();
    if (!made || EVP_CipherInit_ex(made, EVP_aes_256_gcm(), NULL, aes->key, NULL, encrypt) != 1) {
        EVP_CIPHER_CTX_free(made);
        return NULL;
    }
    return *slot = made;
}

int ansar_aesgcm_rekey(ansar_aesgcm *aes, const uint8_t key[32]) {
    memcpy(aes->key, key, sizeof aes->key);
    if (aes->seal && EVP_CipherInit_ex(aes->seal, NULL, NULL, aes->key, NULL, 1) != 1) return -1;
    if (aes->open && EVP_CipherInit_ex(aes->open, NULL, NULL, aes->key, NULL, 0) != 1) return -1;
    return 0;
}

int ansar_aesgcm_seal(ansar_aesgcm *aes, uint8_t *output, uint8_t tag[16], const uint8_t *input, size_t length,
                      const uint8_t *additional, size_t additional_length, const uint8_t nonce[12]) {
    EVP_CIPHER_CTX *ctx = context(aes, 1);
    int written = 0;
    if (!ctx || length > INT_MAX || additional_length > INT_MAX) return -1;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 1) != 1) return -1;
    if (additional_length && EVP_CipherUpdate(ctx, NULL, &written, additional, (int)additional_length) != 1)
        return -1;
    if (length && EVP_CipherUpdate(ctx, output, &written, input, (int)length) != 1) return -1;
    if (EVP_CipherFinal_ex(ctx, output + (length ? written : 0), &written) != 1) return -1;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 ? 0 : -1;
}

int ansar_aesgcm_open(ansar_aesgcm *aes, uint8_t *bytes, size_t length, const uint8_t tag[16],
                      const uint8_t *additional, size_t additional_length, const uint8_t nonce[12]) {
    EVP_CIPHER_CTX *ctx = context(aes, 0);
    int written = 0;
    if (!ctx || length > INT_MAX || additional_length > INT_MAX) return -1;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 0) != 1) return -1;
    if (additional_length && EVP_CipherUpdate(ctx, NULL, &written, additional, (int)additional_length) != 1)
        return -1;
    if (length && EVP_CipherUpdate(ctx, bytes, &written, bytes, (int)length) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) != 1) return -1;
    return EVP_CipherFinal_ex(ctx, bytes + (length ? written : 0), &written) == 1 ? 0 : -1;
}
