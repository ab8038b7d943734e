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
use safepulse_domain::{Email, Role};
use safepulse_store::org;
use safepulse_store::releases::ReleaseReader;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

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
    pub fn led_teams_read(&self, teams: &[AccessNode]) -> HashSet<Uuid> {
        match &self.releases.scope {
            ReaderScope::Everything => teams.iter().map(|team| team.id).collect(),
            ReaderScope::LedTeams(led) => nodes_a_manager_reads(teams, led),
        }
    }

    pub fn is_hr(&self) -> bool {
        matches!(self.releases.scope, ReaderScope::Everything)
    }
}
