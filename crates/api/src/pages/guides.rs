//! Conversation guides: for each of the eight climate dimensions, what a low or
//! falling score can mean and three questions a manager can use to open the
//! conversation with the team. Written for safepulse, grounded in common practice
//! around trust, empathy and psychological safety: talk with the team rather than
//! about it, go first by showing some openness yourself, ask open questions, and
//! never try to find out who answered what.
//!
//! The recommendation item (eNPS) has no guide: it summarises the others. Each
//! guide is written in English and German (formal "Sie" towards the manager, the
//! questions in the "ihr/wir" a manager uses with their own team).

use safepulse_domain::{Dimension, Locale};

#[derive(Debug)]
pub struct Guide {
    /// What a low or falling score can mean.
    pub meaning: &'static str,
    /// Three open questions for the team.
    pub questions: [&'static str; 3],
}

/// The guide for `dimension` in `locale`, or `None` for the recommendation item.
pub fn guide(dimension: Dimension, locale: Locale) -> Option<&'static Guide> {
    if locale == Locale::De {
        return german(dimension);
    }
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

fn german(dimension: Dimension) -> Option<&'static Guide> {
    Some(match dimension {
        Dimension::PsychologicalSafety => &PSYCHOLOGICAL_SAFETY_DE,
        Dimension::Trust => &TRUST_DE,
        Dimension::Empathy => &EMPATHY_DE,
        Dimension::Feedback => &FEEDBACK_DE,
        Dimension::Clarity => &CLARITY_DE,
        Dimension::Rapport => &RAPPORT_DE,
        Dimension::Vulnerability => &VULNERABILITY_DE,
        Dimension::Wellbeing => &WELLBEING_DE,
        Dimension::Recommendation => return None,
    })
}

const PSYCHOLOGICAL_SAFETY_DE: Guide = Guide {
    meaning: "Vielleicht wägen die Leute ab, was es sie kostet, etwas anzusprechen: eine \
              unfertige Idee, Bedenken zu einem Plan, einen Fehler, der ihnen aufgefallen ist. \
              Oft wurde niemand bestraft; es genügt, dass eine frühere Reaktion scharf wirkte \
              oder Widerspruch meist ins Leere läuft. Stille Meetings können wie Zustimmung \
              aussehen, ohne es zu sein.",
    questions: [
        "Wann hat hier zuletzt jemand etwas Unbequemes gesagt, und was ist danach passiert?",
        "Welche Frage oder welches Bedenken habt ihr zuletzt zurückgehalten, und was hat euch davon abgehalten?",
        "Was könnte ich anders machen, wenn jemand mir schlechte Nachrichten oder einen Fehler bringt?",
    ],
};

const TRUST_DE: Guide = Guide {
    meaning: "Vielleicht zweifeln die Leute daran, dass andere tun, was sie gesagt haben, oder \
              dass Entscheidungen in gutem Glauben fallen. Vertrauen bröckelt meist durch \
              Kleinigkeiten: Zusagen, die still verrutschen, Entscheidungen, die erst im \
              Nachhinein erklärt werden, oder Informationen, die manche früher erreichen als \
              andere.",
    questions: [
        "Welche Zusagen, von mir oder untereinander, sind zuletzt verrutscht, ohne dass wir darüber gesprochen haben?",
        "Wo habt ihr das Gefühl, von Entscheidungen zu spät zu erfahren?",
        "Was würde es in den nächsten Wochen leichter machen, sich aufeinander zu verlassen?",
    ],
};

const EMPATHY_DE: Guide = Guide {
    meaning: "Vielleicht haben die Leute das Gefühl, dass ihre Lage nicht gesehen wird: die \
              Arbeitslast, das Leben außerhalb der Arbeit oder wie eine Veränderung bei ihnen \
              ankommt. Es kann auch heißen, dass das Team so schnell unterwegs ist, dass niemand \
              Raum hat zu bemerken, wenn es einer Kollegin oder einem Kollegen schlecht geht.",
    questions: [
        "Wann hattet ihr zuletzt das Gefühl, dass hier jemand wirklich verstanden hat, womit ihr gerade zu tun habt?",
        "Was beschäftigt euch gerade, das das Team vielleicht nicht weiß, wenn ihr es teilen möchtet?",
        "Wie können wir früher merken, wenn es jemandem von uns schlecht geht?",
    ],
};

const FEEDBACK_DE: Guide = Guide {
    meaning: "Feedback ist vielleicht selten, vage oder fließt nur in eine Richtung. Die Leute \
              erfahren womöglich erst, wie ihre Arbeit gesehen wird, wenn es zu spät ist, noch \
              etwas zu ändern, oder sie finden es riskant, Feedback nach oben zu geben.",
    questions: [
        "Welches Feedback hätte euch im letzten Monat geholfen, kam aber nicht?",
        "Was macht es hier leicht oder schwer, einander oder mir Feedback zu geben?",
        "Welches Feedback habt ihr heute für mich?",
    ],
};

const CLARITY_DE: Guide = Guide {
    meaning: "Vielleicht ist unklar, was am wichtigsten ist, wer entscheidet oder wie gute \
              Arbeit aussieht. Wechselnde Prioritäten, überlappende Zuständigkeiten und Ziele, \
              die nie wiederholt werden, summieren sich; der Preis ist doppelte Arbeit und das \
              stille Gefühl, auf der Stelle zu treten.",
    questions: [
        "Wenn ihr jetzt unsere drei Prioritäten nennen müsstet, welche wären es?",
        "Wo ist unklar, wer entscheidet oder wer was macht?",
        "Was hat sich zuletzt geändert, ohne dass es jemand richtig erklärt hat?",
    ],
};

const RAPPORT_DE: Guide = Guide {
    meaning: "Vielleicht arbeitet das Team nebeneinander, ohne sich verbunden zu fühlen: wenig \
              informeller Kontakt, wenige gemeinsame Momente oder Untergruppen, die sich selten \
              mischen. Teams im Homeoffice und hybride Teams verlieren diese kleinen Kontakte \
              zuerst, und gerade sie machen schwierige Gespräche leichter.",
    questions: [
        "Wann haben wir zuletzt Zeit miteinander verbracht, bei der es nicht um eine Frist ging?",
        "Wen im Team kennt ihr am wenigsten, und was könnte das ändern?",
        "Welche gemeinsame Zeit wäre wirklich willkommen, und was würde sich erzwungen anfühlen?",
    ],
};

const VULNERABILITY_DE: Guide = Guide {
    meaning: "Vielleicht haben die Leute das Gefühl, jederzeit kompetent wirken zu müssen: um \
              Hilfe bitten, Unsicherheit zugeben oder sagen „da lag ich falsch“ kann riskant \
              erscheinen. Offenheit folgt meist der Person mit der meisten Macht; wenn die \
              Leitung nie Zweifel zeigt, tut es auch sonst niemand.",
    questions: [
        "Was habe ich zuletzt falsch gemacht, und was habe ich daraus gelernt? (Gehen Sie voran.)",
        "Wann hat es hier gut funktioniert, um Hilfe zu bitten, und wann ging es nach hinten los?",
        "Was würde es leichter machen, in unseren Meetings „Ich weiß es nicht“ zu sagen?",
    ],
};

const WELLBEING_DE: Guide = Guide {
    meaning: "Vielleicht sind die Leute müde, überlastet oder können nicht abschalten. Ein \
              fallender Wert zeigt Belastung oft, bevor sie sich in Ergebnissen oder \
              Krankheitstagen zeigt. Es geht selten um die Belastbarkeit einer einzelnen Person \
              und meist um Arbeitsmenge, Tempo oder Erholungszeit.",
    questions: [
        "Wie nachhaltig fühlt sich das aktuelle Tempo ehrlich an, auf einer Skala eurer Wahl?",
        "Was könnten wir im nächsten Monat weglassen, verschieben oder weniger tun?",
        "Was hilft euch, euch nach einer anstrengenden Woche zu erholen, und was steht dem im Weg?",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_of_the_eight_dimensions_has_a_guide_with_three_questions_in_each_language() {
        for locale in [Locale::En, Locale::De] {
            each_dimension_has_a_guide(locale);
        }
    }

    fn each_dimension_has_a_guide(locale: Locale) {
        let with_guides = Dimension::ALL
            .into_iter()
            .filter_map(|dimension| guide(dimension, locale))
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
        assert!(guide(Dimension::Recommendation, locale).is_none());
    }
}
