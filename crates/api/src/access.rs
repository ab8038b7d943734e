//! Who the caller of a report is (DESIGN §3 "Who reads what"):
//!
//! - hr reads every node; admin reads results only when the same person also holds
//!   the hr role;
//! - a manager reads what `nodes_a_manager_reads` gives for the teams they lead
//!   now, evaluated on each round's own snapshot;
//! - nobody reads a node of a round in which their own invitation sat inside that
//!   node's subtree without being counted as one of its viewers (promoted or given
//!   hr after the round opened): the anonymizer did not subtract them there.
//!
//! [`Reader`] only says who is reading. Which releases they get is decided in one
//! place, the store's release gate (`safepulse_store::releases::visible_releases`),
//! which every read path goes through with [`Reader::releases`].

use std::collections::HashSet;

use safepulse_domain::access::{AccessNode, ReaderScope, nodes_a_manager_reads};
use safepulse_domain::{Email, Role, TeamId};
use safepulse_store::org;
use safepulse_store::releases::ReleaseReader;
use sea_orm::ConnectionTrait;

use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Reader {
    pub subject: String,
    releases: ReleaseReader,
}

impl Reader {
    /// The reader behind a verified token; 403 for an admin without the hr role.
    pub async fn resolve(caller: &Caller, db: &impl ConnectionTrait) -> Result<Reader, ApiError> {
        let person = match Email::parse(&caller.subject) {
            Ok(email) => org::find_person_by_email(db, &email).await?,
            Err(_) => None,
        };
        let person_id = person.as_ref().map(|person| person.id);
        let scope = match caller.role {
            Role::Hr => ReaderScope::Everything,
            Role::Admin => {
                let holds_hr = match person_id {
                    Some(id) => org::roles_of(db, id).await?.iter().any(|role| role == "hr"),
                    None => false,
                };
                if !holds_hr {
                    return Err(ApiError::Forbidden);
                }
                ReaderScope::Everything
            }
            Role::Manager => match person_id {
                Some(id) => ReaderScope::LedTeams(org::teams_led_by(db, id).await?),
                None => ReaderScope::LedTeams(Vec::new()),
            },
            // Provisioning never reads survey data.
            Role::Scim => return Err(ApiError::Forbidden),
        };
        Ok(Reader {
            subject: caller.subject.clone(),
            releases: ReleaseReader { scope, person_id },
        })
    }

    /// The reader as the release gate takes it.
    pub fn releases(&self) -> &ReleaseReader {
        &self.releases
    }

    /// The teams of the current organisation a manager reads (hr: all of them).
    /// `teams` is that organisation as an access tree ([`AccessNode::team`]), whose
    /// every node is a team, so each node read is a team read.
    pub fn led_teams_read(&self, teams: &[AccessNode]) -> HashSet<TeamId> {
        let nodes = match &self.releases.scope {
            ReaderScope::Everything => teams.iter().map(|team| team.id).collect(),
            ReaderScope::LedTeams(led) => nodes_a_manager_reads(teams, led),
        };
        nodes.into_iter().map(TeamId::of_team_node).collect()
    }

    pub fn is_hr(&self) -> bool {
        matches!(self.releases.scope, ReaderScope::Everything)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }

    /// The compiler keeps the store's raw release readers private; the entities
    /// stay public (the close writes releases), so this keeps the API from querying
    /// them directly and going around the gate.
    #[test]
    fn no_code_of_the_api_reads_releases_past_the_release_gate() {
        let mut files = Vec::new();
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() >= 20, "the scan finds the sources: {files:?}");
        let entities = ["release", "released_comment", "release_ledger"];
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for entity in entities {
                let query = format!("{entity}::Entity");
                assert!(
                    !source.contains(&query),
                    "{} uses {query}: read releases through safepulse_store::releases",
                    file.display()
                );
            }
        }
    }
}
