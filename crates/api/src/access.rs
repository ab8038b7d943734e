//! Who may read which release (DESIGN §3 "Who reads what"), applied per round:
//!
//! - hr reads every node; admin reads results only when the same person also holds
//!   the hr role;
//! - a manager reads what [`nodes_a_manager_reads`] gives for the teams they lead
//!   now, evaluated on each round's own snapshot;
//! - nobody reads a node of a round in which their own invitation sat inside that
//!   node's subtree without being counted as one of its viewers (promoted or given
//!   hr after the round opened): the anonymizer did not subtract them there.

use std::collections::{HashMap, HashSet};

use safepulse_domain::access::{AccessNode, NodeKind, nodes_a_manager_reads};
use safepulse_domain::{Email, Role};
use safepulse_store::entities::round_node;
use safepulse_store::{org, reports};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Reader {
    pub subject: String,
    person_id: Option<Uuid>,
    scope: Scope,
}

#[derive(Debug, Clone)]
enum Scope {
    Everything,
    LedTeams(Vec<Uuid>),
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
            Role::Hr => Scope::Everything,
            Role::Admin => {
                let holds_hr = match person_id {
                    Some(id) => org::roles_of(db, id).await?.iter().any(|role| role == "hr"),
                    None => false,
                };
                if !holds_hr {
                    return Err(ApiError::Forbidden);
                }
                Scope::Everything
            }
            Role::Manager => match person_id {
                Some(id) => Scope::LedTeams(org::teams_led_by(db, id).await?),
                None => Scope::LedTeams(Vec::new()),
            },
        };
        Ok(Reader {
            subject: caller.subject.clone(),
            person_id,
            scope,
        })
    }

    /// The teams of the current organisation a manager reads (hr: all of them).
    pub fn led_teams_read(&self, teams: &[AccessNode]) -> HashSet<Uuid> {
        match &self.scope {
            Scope::Everything => teams.iter().map(|team| team.id).collect(),
            Scope::LedTeams(led) => nodes_a_manager_reads(teams, led),
        }
    }

    pub fn is_hr(&self) -> bool {
        matches!(self.scope, Scope::Everything)
    }

    /// What the reader's own invitations say about a set of rounds, loaded once.
    pub async fn own_rounds(
        &self,
        db: &impl ConnectionTrait,
        round_ids: &[Uuid],
    ) -> Result<OwnRounds, ApiError> {
        let Some(person_id) = self.person_id else {
            return Ok(OwnRounds::default());
        };
        Ok(OwnRounds {
            invitation_nodes: reports::invitation_nodes_in_rounds(db, person_id, round_ids).await?,
            counted_as_viewer: reports::counted_viewer_nodes_in_rounds(db, person_id, round_ids)
                .await?,
        })
    }

    /// The nodes of one round this reader may read.
    pub fn readable_in(
        &self,
        round_id: Uuid,
        snapshot: &[round_node::Model],
        own: &OwnRounds,
    ) -> HashSet<Uuid> {
        let nodes: Vec<AccessNode> = snapshot.iter().map(access_node).collect();
        let mut readable: HashSet<Uuid> = match &self.scope {
            Scope::Everything => nodes.iter().map(|node| node.id).collect(),
            Scope::LedTeams(led) => nodes_a_manager_reads(&nodes, led),
        };
        if let Some(own_node) = own.invitation_nodes.get(&round_id) {
            let counted = own.counted_as_viewer.get(&round_id);
            readable.retain(|node| {
                counted.is_some_and(|counted| counted.contains(node))
                    || !safepulse_domain::access::is_within(&nodes, *own_node, *node)
            });
        }
        readable
    }
}

/// The reader's invitation node and counted-viewer nodes per round.
#[derive(Debug, Clone, Default)]
pub struct OwnRounds {
    invitation_nodes: HashMap<Uuid, Uuid>,
    counted_as_viewer: HashMap<Uuid, HashSet<Uuid>>,
}

pub fn access_node(node: &round_node::Model) -> AccessNode {
    AccessNode {
        id: node.node_id,
        parent: node.parent_node_id,
        kind: NodeKind::parse(&node.kind).unwrap_or(NodeKind::Team),
    }
}
