//! The secrets directory: master keys (`master-<id>.key`) and JWT signing keys
//! (`jwt-<id>.key`), each a file holding at least 32 random bytes in base64.
//!
//! The newest id (ids sort by creation: `YYYYMMDDhhmmss`) is the active one; older
//! keys stay readable so that rounds opened with them can still close and tokens
//! signed with them still verify until they expire. On the embedded default the
//! directory and one key of each kind are created with 0600 permissions when the
//! database is new; keys missing next to an existing database stop the server
//! (new keys would silently end every token and leave open rounds unable to take
//! answers). In production mode a missing or short key stops the server.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use safepulse_domain::keys::{KEY_LEN, KeyId, MasterKey, random_bytes};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the key directory {0} is inside the data directory; move it out so a copy of the data is never a key to it"
    )]
    InsideDataDir(PathBuf),
    #[error("no {kind} key in {dir} (expected a file named {kind}-<id>.key)")]
    Missing { kind: &'static str, dir: PathBuf },
    #[error(
        "no {kind} key in {dir}, but the database already holds data made with it: restore the \
         secrets directory from your copy of the keys (keys are generated only for a new \
         database; new ones would end every token and sign-in, and open rounds could take no \
         answers)"
    )]
    Lost { kind: &'static str, dir: PathBuf },
    #[error("{0} holds fewer than {KEY_LEN} bytes after base64 decoding")]
    TooShort(PathBuf),
    #[error("{0} is not valid base64")]
    NotBase64(PathBuf),
    #[error("{0}: the key id in the file name may only use letters, digits, '-' and '_'")]
    BadName(PathBuf),
    #[error("cannot use the secrets directory {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// What [`Secrets::load`] does about a missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKeys {
    /// Generate it: the embedded default, on a new database.
    Generate,
    /// Refuse and ask for the keys to be restored: the embedded default on a
    /// database that holds data made with them.
    Restore,
    /// Refuse: production, where the operator provides the keys.
    Refuse,
}

/// A symmetric JWT signing key with its id (`kid`).
#[derive(Clone)]
pub struct JwtKey {
    pub id: KeyId,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every key found in the secrets directory, newest last.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub master_keys: Vec<MasterKey>,
    pub jwt_keys: Vec<JwtKey>,
}

impl Secrets {
    /// The key new rounds are opened with.
    pub fn active_master_key(&self) -> &MasterKey {
        self.master_keys
            .last()
            .expect("Secrets always holds at least one master key")
    }

    pub fn master_key(&self, id: &str) -> Option<&MasterKey> {
        self.master_keys.iter().find(|key| key.id().as_str() == id)
    }

    /// The key new tokens are signed with.
    pub fn active_jwt_key(&self) -> &JwtKey {
        self.jwt_keys
            .last()
            .expect("Secrets always holds at least one JWT key")
    }

    pub fn jwt_key(&self, id: &str) -> Option<&JwtKey> {
        self.jwt_keys.iter().find(|key| key.id.as_str() == id)
    }

    /// Loads the keys; `missing` says what happens when one kind has none.
    pub fn load(
        dir: &Path,
        data_dir: &Path,
        missing: MissingKeys,
        now: DateTime<Utc>,
    ) -> Result<Secrets, SecretsError> {
        refuse_inside_data_dir(dir, data_dir)?;
        let io = |source| SecretsError::Io {
            dir: dir.to_owned(),
            source,
        };
        let create = missing == MissingKeys::Generate;
        if create {
            create_private_dir(dir).map_err(io)?;
        }
        let mut master_entries = read_keys(dir, "master")?;
        let mut jwt_entries = read_keys(dir, "jwt")?;
        if create && master_entries.is_empty() {
            master_entries.push(write_new_key(dir, "master", now).map_err(io)?);
        }
        if create && jwt_entries.is_empty() {
            jwt_entries.push(write_new_key(dir, "jwt", now).map_err(io)?);
        }
        let absent = |kind| match missing {
            MissingKeys::Restore => SecretsError::Lost {
                kind,
                dir: dir.to_owned(),
            },
            MissingKeys::Generate | MissingKeys::Refuse => SecretsError::Missing {
                kind,
                dir: dir.to_owned(),
            },
        };
        if master_entries.is_empty() {
            return Err(absent("master"));
        }
        if jwt_entries.is_empty() {
            return Err(absent("jwt"));
        }
        let master_keys = master_entries
            .into_iter()
            .map(|(id, bytes, _)| MasterKey::new(id, bytes).expect("length checked when read"))
            .collect();
        let jwt_keys = jwt_entries
            .into_iter()
            .map(|(id, secret, _)| JwtKey { id, secret })
            .collect();
        Ok(Secrets {
            master_keys,
            jwt_keys,
        })
    }
}

/// Refuses a key directory (secrets, round keyring) inside the data directory:
/// a copy of the data must never be a key to it.
///
/// Both paths are compared twice: as written (`..` folded), because a backup that
/// follows symbolic links copies what the data directory's path names; and as the
/// real location (symbolic links and `..` resolved through every existing
/// ancestor), because `other/../data/secrets` or a link to the data directory
/// names a place inside it. Neither directory needs to exist yet.
pub(crate) fn refuse_inside_data_dir(key_dir: &Path, data_dir: &Path) -> Result<(), SecretsError> {
    let io = |source| SecretsError::Io {
        dir: key_dir.to_owned(),
        source,
    };
    let (key_written, data_written) = (
        absolute(key_dir).map_err(io)?,
        absolute(data_dir).map_err(io)?,
    );
    let inside_as_written = folded(&key_written).starts_with(folded(&data_written));
    let inside_really = real_location(&key_written).starts_with(real_location(&data_written));
    if inside_as_written || inside_really {
        return Err(SecretsError::InsideDataDir(key_dir.to_owned()));
    }
    Ok(())
}

fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// An absolute path with `.` dropped and each `..` taking away the name before it.
fn folded(path: &Path) -> PathBuf {
    let mut folded = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                folded.pop();
            }
            other => folded.push(other),
        }
    }
    folded
}

/// Where an absolute path really leads: its longest existing ancestor resolved by
/// the filesystem (symbolic links, `..`), the rest folded onto it.
fn real_location(path: &Path) -> PathBuf {
    let components: Vec<Component> = path.components().collect();
    for existing in (0..=components.len()).rev() {
        let ancestor: PathBuf = components[..existing].iter().collect();
        if let Ok(real) = fs::canonicalize(&ancestor) {
            return folded(&real.join(components[existing..].iter().collect::<PathBuf>()));
        }
    }
    folded(path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `(id, bytes, path)` of every `<kind>-<id>.key`, sorted by id.
fn read_keys(
    dir: &Path,
    kind: &'static str,
) -> Result<Vec<(KeyId, Vec<u8>, PathBuf)>, SecretsError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SecretsError::Io {
                dir: dir.to_owned(),
                source,
            });
        }
    };
    let prefix = format!("{kind}-");
    let mut keys = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(file_name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let Some(id) = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".key"))
        else {
            continue;
        };
        let id = KeyId::parse(id).map_err(|_| SecretsError::BadName(path.clone()))?;
        let text = fs::read_to_string(&path).map_err(|source| SecretsError::Io {
            dir: dir.to_owned(),
            source,
        })?;
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretsError::NotBase64(path.clone()))?;
        if bytes.len() < KEY_LEN {
            return Err(SecretsError::TooShort(path));
        }
        keys.push((id, bytes, path));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}

fn write_new_key(
    dir: &Path,
    kind: &str,
    now: DateTime<Utc>,
) -> std::io::Result<(KeyId, Vec<u8>, PathBuf)> {
    let id =
        KeyId::parse(&now.format("%Y%m%d%H%M%S").to_string()).expect("digits are a valid key id");
    let bytes = random_bytes().to_vec();
    let path = dir.join(format!("{kind}-{id}.key"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(STANDARD.encode(&bytes).as_bytes())?;
    file.sync_all()?;
    Ok((id, bytes, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_mode_creates_private_keys_once() {
        let root = tempfile::tempdir().unwrap();
        let secrets_dir = root.path().join("secrets");
        let data_dir = root.path().join("data");
        let first =
            Secrets::load(&secrets_dir, &data_dir, MissingKeys::Generate, Utc::now()).unwrap();
        let again =
            Secrets::load(&secrets_dir, &data_dir, MissingKeys::Generate, Utc::now()).unwrap();
        assert_eq!(
            first.active_master_key().id(),
            again.active_master_key().id()
        );
        assert_eq!(again.master_keys.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for entry in fs::read_dir(&secrets_dir).unwrap() {
                let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
        }
    }

    #[test]
    fn production_mode_refuses_missing_keys_and_names_them() {
        let root = tempfile::tempdir().unwrap();
        let error = Secrets::load(
            &root.path().join("secrets"),
            &root.path().join("data"),
            MissingKeys::Refuse,
            Utc::now(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("no master key"), "{error}");
    }

    #[test]
    fn a_short_key_is_refused_with_its_path() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("secrets");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("master-1.key"), STANDARD.encode([1u8; 16])).unwrap();
        let error = Secrets::load(
            &dir,
            &root.path().join("data"),
            MissingKeys::Refuse,
            Utc::now(),
        )
        .unwrap_err();
        assert!(
            matches!(error, SecretsError::TooShort(ref path) if path.ends_with("master-1.key")),
            "{error}"
        );
    }

    #[test]
    fn secrets_inside_the_data_dir_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let error = Secrets::load(
            &root.path().join("data/secrets"),
            &root.path().join("data"),
            MissingKeys::Generate,
            Utc::now(),
        );
        assert!(matches!(error, Err(SecretsError::InsideDataDir(_))));
    }

    #[test]
    fn the_newest_key_is_active_and_older_ones_stay_readable() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("secrets");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("master-20250101000000.key"),
            STANDARD.encode([1u8; 32]),
        )
        .unwrap();
        fs::write(
            dir.join("master-20260101000000.key"),
            STANDARD.encode([2u8; 32]),
        )
        .unwrap();
        fs::write(dir.join("jwt-a.key"), STANDARD.encode([3u8; 32])).unwrap();
        let secrets = Secrets::load(
            &dir,
            &root.path().join("data"),
            MissingKeys::Refuse,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(secrets.active_master_key().id().as_str(), "20260101000000");
        assert!(secrets.master_key("20250101000000").is_some());
    }

    #[test]
    fn a_key_dir_reaching_into_the_data_dir_through_dot_dot_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data");
        fs::create_dir_all(&data_dir).unwrap();
        for key_dir in [
            root.path().join("other/../data/secrets"),
            root.path().join("data/./keys/../secrets"),
        ] {
            let error = Secrets::load(&key_dir, &data_dir, MissingKeys::Generate, Utc::now());
            assert!(
                matches!(error, Err(SecretsError::InsideDataDir(_))),
                "{key_dir:?}: {error:?}"
            );
        }
        assert!(
            !data_dir.join("secrets").exists(),
            "nothing is created before the refusal"
        );
        refuse_inside_data_dir(&root.path().join("data/../secrets"), &data_dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_key_dir_reaching_into_the_data_dir_through_a_symbolic_link_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data");
        fs::create_dir_all(&data_dir).unwrap();
        // A link to the data directory: the key directory does not exist yet.
        std::os::unix::fs::symlink(&data_dir, root.path().join("link")).unwrap();
        let error = Secrets::load(
            &root.path().join("link/secrets"),
            &data_dir,
            MissingKeys::Generate,
            Utc::now(),
        );
        assert!(
            matches!(error, Err(SecretsError::InsideDataDir(_))),
            "{error:?}"
        );
        // The data directory named through a link, the key directory by its real path.
        std::os::unix::fs::symlink(root.path(), root.path().join("root-link")).unwrap();
        let error = refuse_inside_data_dir(
            &data_dir.join("rounds"),
            &root.path().join("root-link/data"),
        );
        assert!(
            matches!(error, Err(SecretsError::InsideDataDir(_))),
            "{error:?}"
        );
        // A link inside the data directory to keys kept elsewhere: a backup that
        // follows links would copy them.
        let elsewhere = root.path().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, data_dir.join("keys")).unwrap();
        let error = refuse_inside_data_dir(&data_dir.join("keys"), &data_dir);
        assert!(
            matches!(error, Err(SecretsError::InsideDataDir(_))),
            "{error:?}"
        );
        refuse_inside_data_dir(&elsewhere, &data_dir).unwrap();
    }

    #[test]
    fn keys_of_an_existing_database_are_never_generated_again() {
        let root = tempfile::tempdir().unwrap();
        let secrets_dir = root.path().join("secrets");
        let error = Secrets::load(
            &secrets_dir,
            &root.path().join("data"),
            MissingKeys::Restore,
            Utc::now(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("restore the secrets directory"), "{error}");
        assert!(!secrets_dir.exists(), "nothing is created");
    }
}
