//! Conversation guides: for each of the eight climate dimensions, what a low or
//! falling score can mean and three questions a manager can use to open the
//! conversation with the team. Written for safepulse, grounded in common practice
//! around trust, empathy and psychological safety: talk with the team rather than
//! about it, go first by showing some openness yourself, ask open questions, and
//! never try to find out who answered what.
//!
//! The recommendation item (eNPS) has no guide: it summarises the others.

use safepulse_domain::Dimension;

#[derive(Debug)]
pub struct Guide {
    /// What a low or falling score can mean.
    pub meaning: &'static str,
    /// Three open questions for the team.
    pub questions: [&'static str; 3],
}

/// The guide for `dimension`, or `None` for the recommendation item.
pub fn guide(dimension: Dimension) -> Option<&'static Guide> {
    Some(match dimension {
        Dimension::PsychologicalSafety => &PSYCHOLOGICAL_SAFETY,
        Dimension::Trust => &TRUST,
        Dimension::Empathy => &EMPATHY,
        Dimension::Feedback => &FEEDBACK,
        Dimension::Clarity => &CLARITY,
        Dimension::Rapport => &RAPPORT,
        Dimension::Vulnerability => &VULNERABILITY,
        Dimension::Wellbeing => &WELLBEING,
        Dimension::Recommendation => return None,
    })
}

const PSYCHOLOGICAL_SAFETY: Guide = Guide {
    meaning: "People may be weighing what it costs them to speak up: an unfinished idea, a \
              concern about a plan, a mistake they noticed. Often nobody has been punished; it is \
              enough that a past reaction felt sharp, or that disagreement tends to go nowhere. \
              Quiet meetings can look like agreement when they are not.",
    questions: [
        "When did someone here last say something unpopular, and what happened next?",
        "What is a question or a concern you held back recently, and what made you hold it?",
        "What could I do differently when someone brings me bad news or a mistake?",
    ],
};

const TRUST: Guide = Guide {
    meaning: "People may doubt that others will do what they said, or that decisions are made \
              in good faith. Trust usually erodes through small things: commitments that quietly \
              slip, decisions explained after the fact, or information that reaches some people \
              earlier than others.",
    questions: [
        "Which commitments, from me or between us, have slipped lately without being talked about?",
        "Where do you feel you learn about decisions too late?",
        "What would make it easier to rely on each other in the next few weeks?",
    ],
};

const EMPATHY: Guide = Guide {
    meaning: "People may feel that their situation is not seen: workload, life outside work, or \
              how a change lands for them. It can also mean the team moves so fast that nobody \
              has room to notice when a colleague struggles.",
    questions: [
        "When did you last feel that someone here really understood what you were dealing with?",
        "What is happening for you right now that the team might not know about, if you want to share it?",
        "How can we notice earlier when one of us is having a hard time?",
    ],
};

const FEEDBACK: Guide = Guide {
    meaning: "Feedback may be rare, vague, or only flowing in one direction. People may not know \
              how their work is seen until it is too late to change anything, or they may find \
              it risky to give feedback upwards.",
    questions: [
        "What feedback would have helped you in the last month but did not come?",
        "What makes giving feedback to each other, or to me, feel easy or hard here?",
        "What is one piece of feedback you have for me today?",
    ],
};

const CLARITY: Guide = Guide {
    meaning: "People may be unsure what matters most, who decides, or what good work looks like. \
              Shifting priorities, overlapping responsibilities and goals that are never \
              restated all add up; the cost is rework and a quiet sense of running in place.",
    questions: [
        "If you had to name our three priorities right now, what would they be?",
        "Where is it unclear who decides, or who does what?",
        "What changed recently that nobody properly explained?",
    ],
};

const RAPPORT: Guide = Guide {
    meaning: "The team may be working side by side without feeling connected: little informal \
              contact, few shared moments, or sub-groups that rarely mix. Remote and hybrid teams \
              lose these small contacts first, and they are what makes hard conversations easier.",
    questions: [
        "When did we last spend time together that was not about a deadline?",
        "Who in the team do you know least, and what might help change that?",
        "What kind of time together would actually be welcome, and what would feel forced?",
    ],
};

const VULNERABILITY: Guide = Guide {
    meaning: "People may feel they have to appear competent at all times: asking for help, \
              admitting uncertainty or saying \"I got this wrong\" may seem risky. Openness tends \
              to follow the person with the most power; if the lead never shows doubt, nobody \
              else will either.",
    questions: [
        "What is something I got wrong recently, and what did I learn from it? (Go first.)",
        "When did asking for help here work well, and when did it backfire?",
        "What would make it easier to say \"I don't know\" in our meetings?",
    ],
};

const WELLBEING: Guide = Guide {
    meaning: "People may be tired, overloaded, or unable to switch off. A falling score often \
              shows strain before it shows in results or sick days. It is rarely about one \
              person's resilience and usually about load, pace or recovery time.",
    questions: [
        "How sustainable does the current pace feel, honestly, on a scale you choose?",
        "What could we stop, postpone or do less of for the next month?",
        "What helps you recover after a demanding week, and what gets in the way?",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_of_the_eight_dimensions_has_a_guide_with_three_questions() {
        let with_guides = Dimension::ALL
            .into_iter()
            .filter_map(guide)
            .inspect(|guide| {
                assert!(guide.meaning.len() > 100);
                assert!(
                    guide
                        .questions
                        .iter()
                        .all(|question| question.ends_with('?') || question.ends_with(".)"))
                );
            })
            .count();
        assert_eq!(with_guides, 8);
        assert!(guide(Dimension::Recommendation).is_none());
    }
}
