"""KeyClient and CryptographyClient: RSA and EC keys, sign/verify, encrypt/decrypt, wrap/unwrap."""
import hashlib

from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import (
    CryptographyClient,
    EncryptionAlgorithm,
    KeyWrapAlgorithm,
    SignatureAlgorithm,
)

import strongroom

creds = strongroom.admin()
keys = strongroom.client(KeyClient, creds)
prefix = strongroom.scenario()
credential = strongroom.credential(creds)


def crypto(key):
    return CryptographyClient(key, credential, verify_challenge_resource=False)


rsa = keys.create_rsa_key(f"{prefix}-rsa", size=3072)
ec = keys.create_ec_key(f"{prefix}-ec", curve="P-384")
digest = hashlib.sha256(b"signed by strongroom").digest()
digest384 = hashlib.sha384(b"signed by strongroom").digest()

rsa_crypto = crypto(rsa)
ec_crypto = crypto(ec)
rs = rsa_crypto.sign(SignatureAlgorithm.ps256, digest)
es = ec_crypto.sign(SignatureAlgorithm.es384, digest384)
plaintext = b"a secret message"
encrypted = rsa_crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, plaintext)
aes_key = bytes(range(32))
wrapped = rsa_crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep, aes_key)

strongroom.report(
    {
        "rsa": {"kty": rsa.key_type, "bits": len(rsa.key.n) * 8, "ops": sorted(rsa.key_operations)},
        "ec": {"kty": ec.key_type, "crv": ec.key.crv},
        "rsaSignatureVerifies": rsa_crypto.verify(SignatureAlgorithm.ps256, digest, rs.signature).is_valid,
        "rsaTamperedVerifies": rsa_crypto.verify(SignatureAlgorithm.ps256, digest384[:32], rs.signature).is_valid,
        "ecSignatureLength": len(es.signature),
        "ecSignatureVerifies": ec_crypto.verify(SignatureAlgorithm.es384, digest384, es.signature).is_valid,
        "decrypted": rsa_crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, encrypted.ciphertext).plaintext.decode(),
        "unwrapped": rsa_crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep, wrapped.encrypted_key).key.hex(),
        "wrappedKeyWas": aes_key.hex(),
        "signKid": rs.key_id,
        "rsaKid": rsa.id,
    }
)
