use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random (v4) id: ids never carry creation order or time.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A team in the organisation's hierarchy.
    TeamId
);
uuid_id!(
    /// A person who can be invited to pulses.
    PersonId
);
uuid_id!(
    /// A survey: question set, audience and cadence.
    SurveyId
);
uuid_id!(
    /// One round of a survey (one period).
    RoundId
);
uuid_id!(
    /// One person's invitation to one round.
    InvitationId
);
uuid_id!(
    /// A node of a round's frozen hierarchy snapshot: a team, or a synthetic node
    /// (the Leadership node, or a synthetic root over several top teams).
    NodeId
);
