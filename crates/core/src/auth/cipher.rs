//! AES-256-GCM for secrets at rest. The key comes from `HLBRIDGE_SECRET_KEY`
//! (64 hex chars or base64 of 32 bytes) or from a key file created on first use with
//! mode 0600.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;
use std::path::Path;

use crate::error::{Error, Result};

/// Environment variable holding the 32-byte key (hex or base64).
pub const KEY_ENV: &str = "HLBRIDGE_SECRET_KEY";

#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Cipher {
            aead: Aes256Gcm::new(key.into()),
        }
    }

    /// Parse a key written as 64 hex characters or base64 of 32 bytes.
    pub fn from_text(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| Error::Config(format!("{KEY_ENV}: {e}")))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    Error::Config(format!(
                        "{KEY_ENV} must be 64 hex characters or base64 of 32 bytes"
                    ))
                })?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Config(format!("{KEY_ENV} must decode to exactly 32 bytes")))?;
        Ok(Cipher::from_key(&key))
    }

    /// The key from `HLBRIDGE_SECRET_KEY`, else from `key_file`, creating the file with a
    /// fresh random key (mode 0600) when it does not exist.
    pub fn from_env_or_file(key_file: &Path) -> Result<Self> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            return Cipher::from_text(&text);
        }
        match std::fs::read_to_string(key_file) {
            Ok(text) => Cipher::from_text(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(key_file, &hex::encode(key))?;
                Ok(Cipher::from_key(&key))
            }
            Err(e) => Err(Error::Config(format!(
                "cannot read key file {}: {e}",
                key_file.display()
            ))),
        }
    }

    /// nonce (12 bytes) || ciphertext+tag
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        let sealed = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| Error::TokenStore("encryption failed".into()))?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return Err(Error::TokenStore("stored secret is truncated".into()));
        }
        let (nonce, body) = sealed.split_at(12);
        self.aead.decrypt(Nonce::from_slice(nonce), body).map_err(|_| {
            Error::TokenStore(format!(
                "cannot decrypt a stored secret: the key ({KEY_ENV} or the key file) is not the one it was stored with"
            ))
        })
    }
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::Config(format!("cannot create key file {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| Error::Config(format!("cannot write key file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_wrong_key_fails() {
        let c = Cipher::from_key(&[7u8; 32]);
        let sealed = c.seal(b"refresh-token").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"refresh"));
        assert_eq!(c.open(&sealed).unwrap(), b"refresh-token");
        let other = Cipher::from_key(&[8u8; 32]);
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn key_text_forms() {
        assert!(Cipher::from_text(&"ab".repeat(32)).is_ok());
        assert!(Cipher::from_text("short").is_err());
    }
}
