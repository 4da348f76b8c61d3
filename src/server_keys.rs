//! The server's own Ed25519 keys: one signs access tokens, one (later) the audit log.
//!
//! Created on first start as PKCS#8 PEM files with mode 0600 in the data directory and
//! loaded on later starts. The database remembers each public key, so a key file that
//! goes missing, cannot be read, is corrupt or was swapped stops the start: a key is
//! never silently replaced, because everything it signed would stop verifying.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};

use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    TokenSigning,
    LogSigning,
}

impl KeyPurpose {
    pub fn name(self) -> &'static str {
        match self {
            KeyPurpose::TokenSigning => "token-signing",
            KeyPurpose::LogSigning => "log-signing",
        }
    }

    pub fn file_in(self, data_dir: &Path) -> PathBuf {
        data_dir.join(format!("{}.key.pem", self.name()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerKeyError {
    #[error(
        "the {purpose} key file {path} is missing, but this database was set up with a key \
         (public key {public_key}); restore the file from backup. Mandaat never replaces a \
         key silently, because everything it signed would stop verifying"
    )]
    Missing {
        purpose: &'static str,
        path: PathBuf,
        public_key: String,
    },
    #[error("cannot read the {purpose} key file {path}: {source}")]
    Unreadable {
        purpose: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {purpose} key file {path} is not a PKCS#8 PEM Ed25519 private key: {reason}")]
    Corrupt {
        purpose: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "the {purpose} key file {path} holds public key {found}, but this database was set up \
         with {expected}; the file was replaced or belongs to another deployment"
    )]
    Mismatch {
        purpose: &'static str,
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot create the {purpose} key file {path}: {source}")]
    Create {
        purpose: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("while checking server keys: {0}")]
    Store(#[from] crate::error::Error),
}

pub struct ServerKeys {
    pub token_signing: SigningKey,
    pub log_signing: SigningKey,
}

impl ServerKeys {
    pub async fn load_or_create(
        data_dir: &Path,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Self, ServerKeyError> {
        Ok(ServerKeys {
            token_signing: load_or_create(KeyPurpose::TokenSigning, data_dir, store, now).await?,
            log_signing: load_or_create(KeyPurpose::LogSigning, data_dir, store, now).await?,
        })
    }
}

async fn load_or_create(
    purpose: KeyPurpose,
    data_dir: &Path,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<SigningKey, ServerKeyError> {
    let path = purpose.file_in(data_dir);
    let recorded = store.recorded_server_key(purpose.name()).await?;
    let key = match std::fs::read_to_string(&path) {
        Ok(pem) => {
            warn_if_readable_by_others(&path);
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| ServerKeyError::Corrupt {
                purpose: purpose.name(),
                path: path.clone(),
                reason: e.to_string(),
            })?
        }
        Err(e) if e.kind() == ErrorKind::NotFound => match &recorded {
            Some(record) => {
                return Err(ServerKeyError::Missing {
                    purpose: purpose.name(),
                    path,
                    public_key: record.clone(),
                });
            }
            None => create(purpose, &path)?,
        },
        Err(source) => {
            return Err(ServerKeyError::Unreadable {
                purpose: purpose.name(),
                path,
                source,
            });
        }
    };
    let public_key = hex::encode(key.verifying_key().as_bytes());
    match recorded {
        Some(record) if record != public_key => Err(ServerKeyError::Mismatch {
            purpose: purpose.name(),
            path,
            found: public_key,
            expected: record,
        }),
        Some(_) => Ok(key),
        None => {
            store
                .record_server_key(purpose.name(), &public_key, now)
                .await?;
            tracing::info!(purpose = purpose.name(), path = %path.display(), "created server key");
            Ok(key)
        }
    }
}

fn create(purpose: KeyPurpose, path: &Path) -> Result<SigningKey, ServerKeyError> {
    let create_err = |source| ServerKeyError::Create {
        purpose: purpose.name(),
        path: path.to_owned(),
        source,
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| create_err(std::io::Error::other(e.to_string())))?;
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| create_err(std::io::Error::other(e.to_string())))?;
    // create_new: never overwrite a file that appeared in the meantime.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(create_err)?;
    file.write_all(pem.as_bytes()).map_err(create_err)?;
    file.sync_all().map_err(create_err)?;
    Ok(key)
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "key file is readable by others; chmod 600 it");
    }
}
