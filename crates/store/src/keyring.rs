//! The round keyring: each open round's salt, in a file outside the database.
//!
//! Why not a column: nulling a column at close does not reach PostgreSQL's
//! write-ahead log, its archive or a base backup, and SQLite's WAL or a copy of the
//! file keep it too. A salt that never enters the database cannot be recovered
//! from any copy of it. The keyring is a directory (by default `rounds/` in the
//! secrets directory) holding `<round id>.salt`, 32 random bytes, written durably
//! when the round opens and destroyed once its close has committed
//! (the close retries until that is done, also after a crash).
//! Several processes share it through a shared volume; it must never be backed up.
//!
//! [`KeyChain`] puts the master keys and the keyring together: it is how every
//! piece of code gets a round's [`RoundKey`].

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use safepulse_domain::RoundId;
use safepulse_domain::keys::{KEY_LEN, KeyId, MasterKey, RoundKey, random_bytes};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("master key {0:?} is missing from the secrets directory")]
    MasterKeyMissing(String),
    #[error(
        "the round keyring has no key for round {0}: the round cannot take answers or send links \
         (restore the keyring directory, or discard the round and open a new one)"
    )]
    RoundKeyMissing(RoundId),
    #[error("the round keyring file {0} is damaged")]
    Damaged(PathBuf),
    #[error("cannot use the round keyring {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The directory of round salts.
#[derive(Debug, Clone)]
pub struct RoundKeyring {
    dir: PathBuf,
}

impl RoundKeyring {
    /// Opens (and creates, with mode 0700) the keyring directory.
    pub fn open(dir: &Path) -> Result<RoundKeyring, KeyringError> {
        fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|source| io_error(dir, source))?;
        }
        Ok(RoundKeyring {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, round: RoundId) -> PathBuf {
        self.dir.join(format!("{round}.salt"))
    }

    /// Writes a new random salt for `round`, durably (file and directory synced)
    /// before the round's opening transaction commits.
    pub fn create(&self, round: RoundId) -> Result<[u8; KEY_LEN], KeyringError> {
        let salt = random_bytes();
        let path = self.path_of(round);
        let temporary = self.dir.join(format!(".{round}.salt.new"));
        let write = || -> std::io::Result<()> {
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary)?;
            file.write_all(&salt)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            sync_dir(&self.dir)
        };
        write().map_err(|source| {
            let _ = fs::remove_file(&temporary);
            io_error(&path, source)
        })?;
        Ok(salt)
    }

    /// The salt of `round`, or `None` when the keyring has none.
    pub fn read(&self, round: RoundId) -> Result<Option<[u8; KEY_LEN]>, KeyringError> {
        let path = self.path_of(round);
        match fs::read(&path) {
            Ok(bytes) => <[u8; KEY_LEN]>::try_from(bytes.as_slice())
                .map(Some)
                .map_err(|_| KeyringError::Damaged(path)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_error(&path, source)),
        }
    }

    /// Destroys the salt of `round`: overwritten with zeros, synced, removed, and
    /// the directory synced. Destroying a salt that is gone already succeeds.
    pub fn destroy(&self, round: RoundId) -> Result<(), KeyringError> {
        let path = self.path_of(round);
        let destroy = || -> std::io::Result<()> {
            match fs::OpenOptions::new().write(true).open(&path) {
                Ok(mut file) => {
                    // On a journaling or copy-on-write filesystem the old blocks may
                    // survive the overwrite; the removal is what counts, the zeros
                    // are for the filesystems where they help.
                    file.write_all(&[0u8; KEY_LEN])?;
                    file.sync_all()?;
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(error) => return Err(error),
            }
            fs::remove_file(&path)?;
            sync_dir(&self.dir)
        };
        destroy().map_err(|source| io_error(&path, source))
    }

    /// Every round that has a salt here, with the time its file was written.
    pub fn rounds(&self) -> Result<Vec<(RoundId, SystemTime)>, KeyringError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| io_error(&self.dir, source))?;
        let mut rounds = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| io_error(&self.dir, source))?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|name| name.strip_suffix(".salt"))
                .and_then(|id| id.parse::<RoundId>().ok())
            else {
                continue;
            };
            let written = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .map_err(|source| io_error(&entry.path(), source))?;
            rounds.push((id, written));
        }
        Ok(rounds)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // Makes a created or removed directory entry durable (POSIX); a no-op elsewhere.
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

fn io_error(path: &Path, source: std::io::Error) -> KeyringError {
    KeyringError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The master keys (the last one opens new rounds) and the round keyring.
#[derive(Debug, Clone)]
pub struct KeyChain {
    master_keys: Arc<[MasterKey]>,
    keyring: RoundKeyring,
}

impl KeyChain {
    pub fn new(master_keys: Vec<MasterKey>, keyring: RoundKeyring) -> KeyChain {
        KeyChain {
            master_keys: Arc::from(master_keys),
            keyring,
        }
    }

    pub fn master_keys(&self) -> &[MasterKey] {
        &self.master_keys
    }

    pub fn keyring(&self) -> &RoundKeyring {
        &self.keyring
    }

    /// The active master key's id and a new round key for `round`, whose salt is
    /// now in the keyring.
    pub fn create_round_key(&self, round: RoundId) -> Result<(KeyId, RoundKey), KeyringError> {
        let master = self
            .master_keys
            .last()
            .ok_or_else(|| KeyringError::MasterKeyMissing("(none)".into()))?;
        let salt = self.keyring.create(round)?;
        Ok((master.id().clone(), master.round_key(round, &salt)))
    }

    /// The key of an open round opened with master key `key_id`.
    pub fn round_key(&self, round: RoundId, key_id: &str) -> Result<RoundKey, KeyringError> {
        let master = self
            .master_keys
            .iter()
            .find(|key| key.id().as_str() == key_id)
            .ok_or_else(|| KeyringError::MasterKeyMissing(key_id.to_owned()))?;
        let salt = self
            .keyring
            .read(round)?
            .ok_or(KeyringError::RoundKeyMissing(round))?;
        Ok(master.round_key(round, &salt))
    }

    /// Whether the key of `round` can be had (for readiness and the admin API).
    pub fn has_round_key(&self, round: RoundId, key_id: &str) -> bool {
        self.round_key(round, key_id).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(dir: &Path) -> KeyChain {
        let master = MasterKey::new(KeyId::parse("m1").unwrap(), vec![9; 32]).unwrap();
        KeyChain::new(vec![master], RoundKeyring::open(dir).unwrap())
    }

    #[test]
    fn a_round_key_lives_until_its_salt_is_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = chain(&dir.path().join("rounds"));
        let round = RoundId::random();
        let (key_id, key) = keys.create_round_key(round).unwrap();
        let again = keys.round_key(round, key_id.as_str()).unwrap();
        let token = key.link_token(safepulse_domain::InvitationId::random());
        assert_eq!(key.ballot(&token), again.ballot(&token));
        assert_eq!(keys.keyring().rounds().unwrap().len(), 1);

        keys.keyring().destroy(round).unwrap();
        assert!(matches!(
            keys.round_key(round, key_id.as_str()),
            Err(KeyringError::RoundKeyMissing(id)) if id == round
        ));
        assert!(keys.keyring().rounds().unwrap().is_empty());
        assert_eq!(
            fs::read_dir(keys.keyring().dir()).unwrap().count(),
            0,
            "no file is left behind"
        );
        keys.keyring().destroy(round).unwrap();
    }

    #[test]
    fn an_unknown_master_key_and_a_damaged_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let keys = chain(dir.path());
        let round = RoundId::random();
        keys.create_round_key(round).unwrap();
        assert!(matches!(
            keys.round_key(round, "other"),
            Err(KeyringError::MasterKeyMissing(_))
        ));
        fs::write(dir.path().join(format!("{round}.salt")), b"short").unwrap();
        assert!(matches!(
            keys.round_key(round, "m1"),
            Err(KeyringError::Damaged(_))
        ));
    }
}
