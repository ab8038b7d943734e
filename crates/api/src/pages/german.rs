//! The German of the signed-in pages: each English text a template or page wraps
//! in `t.tr(…)`, and how it reads in German (plain, formal "Sie"). `{}` marks a
//! value and must appear as often in both. [`super::language`] looks texts up here
//! and tests that nothing wrapped is missing and nothing here is unused.

pub(super) const GERMAN: &[(&str, &str)] = &[
    // Statuses and roles
    ("draft", "Entwurf"),
    ("active", "aktiv"),
    ("paused", "pausiert"),
    ("archived", "archiviert"),
    ("open", "offen"),
    ("closed", "geschlossen"),
    ("HR", "HR"),
    ("manager", "Führungskraft"),
    ("admin", "Admin"),
    // Admin console: frame and navigation
    ("safepulse admin", "safepulse-Verwaltung"),
    ("Admin sections", "Bereiche der Verwaltung"),
    ("Overview", "Übersicht"),
    ("Teams", "Teams"),
    ("People", "Personen"),
    ("CSV upload", "CSV-Upload"),
    ("Surveys", "Befragungen"),
    ("Access", "Zugänge"),
    ("Audit log", "Audit-Protokoll"),
    ("Sign out", "Abmelden"),
    ("Admin", "Verwaltung"),
    ("Admin console", "Verwaltung"),
    (
        "Set up teams, people and surveys, preview what respondents see, and start pulses when you are ready. Administrators configure safepulse; they read no results unless they also hold the HR role.",
        "Hier richten Sie Teams, Personen und Befragungen ein, sehen vorab, was die Befragten sehen, und starten Pulse, wenn Sie so weit sind. Admins konfigurieren safepulse; Ergebnisse sehen sie nur, wenn sie zusätzlich die HR-Rolle haben.",
    ),
    ("teams", "Teams"),
    (
        "people in teams (surveyed)",
        "Personen in Teams (werden befragt)",
    ),
    (
        "people with role grants only (never surveyed)",
        "Personen nur mit Rollen (werden nie befragt)",
    ),
    ("surveys", "Befragungen"),
    (
        "Start with the organisation",
        "Beginnen Sie mit der Organisation",
    ),
    (
        "Create the top team, then its sub-teams, or upload a CSV of people with their team paths. Teams of fewer than about 7 people will often be hidden in reports to protect anonymity; their department still shows.",
        "Legen Sie das oberste Team an, dann seine Unterteams, oder laden Sie eine CSV-Datei mit Personen und ihren Teampfaden hoch. Teams mit weniger als etwa 7 Personen werden in Berichten oft verborgen, um die Anonymität zu schützen; ihre Abteilung erscheint trotzdem.",
    ),
    // Notices
    ("For administrators only", "Nur für Admins"),
    (
        "Form could not be verified",
        "Formular konnte nicht geprüft werden",
    ),
    (
        "Form could not be read",
        "Formular konnte nicht gelesen werden",
    ),
    ("Not found", "Nicht gefunden"),
    ("Not done", "Nicht ausgeführt"),
    (
        "Try again in a minute",
        "Bitte gleich noch einmal versuchen",
    ),
    ("Something went wrong", "Etwas ist schiefgegangen"),
    (
        "The admin console is for administrators",
        "Die Verwaltung ist für Admins",
    ),
    ("You are signed in as {}.", "Sie sind angemeldet als {}."),
    (
        "Administrators configure safepulse with a session of their own: if you hold the admin grant, sign out, open a new sign-in link and press “Administrators: sign in to the admin console”.",
        "Admins konfigurieren safepulse mit einer eigenen Sitzung: Wenn Sie die Admin-Rolle haben, melden Sie sich ab, öffnen Sie einen neuen Anmeldelink und wählen Sie „Admins: in der Verwaltung anmelden“.",
    ),
    ("Back to your reports", "Zurück zu Ihren Berichten"),
    (
        "This form could not be verified",
        "Dieses Formular konnte nicht geprüft werden",
    ),
    (
        "To protect you, safepulse only accepts forms sent from its own pages. Nothing was changed. Please go back, reload the page and try again.",
        "Zu Ihrem Schutz nimmt safepulse nur Formulare von seinen eigenen Seiten an. Es wurde nichts geändert. Bitte gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es noch einmal.",
    ),
    (
        "This form could not be read",
        "Dieses Formular konnte nicht gelesen werden",
    ),
    (
        "Nothing was changed. Please go back and try again. A CSV file must be saved as UTF-8 text.",
        "Es wurde nichts geändert. Bitte gehen Sie zurück und versuchen Sie es noch einmal. Eine CSV-Datei muss als UTF-8-Text gespeichert sein.",
    ),
    (
        "There is nothing at this address.",
        "Unter dieser Adresse gibt es nichts.",
    ),
    ("Back to the admin console", "Zurück zur Verwaltung"),
    ("This was not done", "Das wurde nicht ausgeführt"),
    (
        "safepulse refused the change: {}. Nothing was changed.",
        "safepulse hat die Änderung abgelehnt: {}. Es wurde nichts geändert.",
    ),
    (
        "safepulse cannot reach its database just now (it may be down, busy or full). Please try again in a minute.",
        "safepulse erreicht seine Datenbank gerade nicht (sie ist vielleicht ausgefallen, ausgelastet oder voll). Bitte versuchen Sie es in einer Minute noch einmal.",
    ),
    (
        "The database is out of reach",
        "Die Datenbank ist nicht erreichbar",
    ),
    (
        "Nothing was changed. safepulse cannot reach its database just now (it may be down, busy or full). Please try again in a minute.",
        "Es wurde nichts geändert. safepulse erreicht seine Datenbank gerade nicht (sie ist vielleicht ausgefallen, ausgelastet oder voll). Bitte versuchen Sie es in einer Minute noch einmal.",
    ),
    (
        "Something went wrong on our side",
        "Bei uns ist etwas schiefgegangen",
    ),
    (
        "Nothing may have been changed. Please try again in a few minutes.",
        "Möglicherweise wurde nichts geändert. Bitte versuchen Sie es in ein paar Minuten noch einmal.",
    ),
    // Forms
    ("Nothing was changed.", "Es wurde nichts geändert."),
    (
        "Please correct what is marked:",
        "Bitte korrigieren Sie, was markiert ist:",
    ),
    ("Save", "Speichern"),
    ("Cancel", "Abbrechen"),
    ("Name", "Name"),
    ("Time zone", "Zeitzone"),
    ("Status", "Status"),
    ("Status:", "Status:"),
    // Teams
    (
        "Pulses go to teams and, when a survey includes sub-teams, to the teams below them. Each team's pulses open in its time zone.",
        "Pulse gehen an Teams und, wenn eine Befragung Unterteams einschließt, auch an die Teams darunter. Die Pulse eines Teams öffnen in seiner Zeitzone.",
    ),
    (
        "No teams yet. Create the top team first, or upload a CSV whose team paths create them:",
        "Noch keine Teams. Legen Sie zuerst das oberste Team an oder laden Sie eine CSV-Datei hoch, deren Teampfade die Teams anlegen:",
    ),
    ("{} people", "{} Personen"),
    ("New team", "Neues Team"),
    ("Part of", "Gehört zu"),
    ("— a top-level team —", "— ein Team der obersten Ebene —"),
    (
        "An IANA name. Empty: the parent's, or UTC for a top-level team.",
        "Ein IANA-Name. Leer: die des übergeordneten Teams, bei einem Team der obersten Ebene UTC.",
    ),
    ("Create team", "Team anlegen"),
    ("Name, place and time zone", "Name, Einordnung und Zeitzone"),
    ("Leaders", "Leitung"),
    (
        "Leaders read this team's reports (and those below it and the department above). In a pulse they answer in the Leadership group, not in their team.",
        "Wer ein Team leitet, liest dessen Berichte (und die der Teams darunter und der Abteilung darüber). In einem Puls antworten Leitende in der Gruppe „Führungskreis“, nicht in ihrem Team.",
    ),
    ("Nobody leads this team.", "Niemand leitet dieses Team."),
    ("Remove as leader", "Als Leitung entfernen"),
    (
        "Add a leader by email address",
        "Leitung per E-Mail-Adresse hinzufügen",
    ),
    ("Add leader", "Leitung hinzufügen"),
    ("People ({})", "Personen ({})"),
    ("Nobody is in this team.", "In diesem Team ist niemand."),
    ("Delete", "Löschen"),
    (
        "A team can be deleted only when nothing depends on it: no sub-teams, no people, no survey that asks it, and no pulse round in its history (rename or move it instead).",
        "Ein Team lässt sich nur löschen, wenn nichts davon abhängt: keine Unterteams, keine Personen, keine Befragung, die es fragt, und keine Pulsrunde in seiner Geschichte (benennen Sie es sonst um oder verschieben Sie es).",
    ),
    ("Delete {}", "{} löschen"),
    // People
    (
        "Search by name or email address",
        "Nach Name oder E-Mail-Adresse suchen",
    ),
    ("Search", "Suchen"),
    ("Nobody yet.", "Noch niemand."),
    ("Nobody matches “{}”.", "Niemand passt zu „{}“."),
    ("Email", "E-Mail"),
    ("Team", "Team"),
    ("Roles", "Rollen"),
    ("no team (not surveyed)", "kein Team (wird nicht befragt)"),
    ("leads {}", "leitet {}"),
    ("deactivated", "deaktiviert"),
    (
        "address refused by the mail server",
        "Adresse vom Mailserver abgelehnt",
    ),
    (
        "Showing the first 100. Search to narrow the list.",
        "Die ersten 100 werden gezeigt. Suchen Sie, um die Liste einzugrenzen.",
    ),
    ("Add a person", "Person hinzufügen"),
    (
        "HR: reads every released result",
        "HR: liest alle freigegebenen Ergebnisse",
    ),
    (
        "Admin: configures safepulse (this console)",
        "Admin: konfiguriert safepulse (diese Verwaltung)",
    ),
    ("Add person", "Person hinzufügen"),
    ("The person was erased.", "Die Person wurde gelöscht."),
    (
        "In no team: never surveyed.",
        "In keinem Team: wird nie befragt.",
    ),
    (
        "Invited to the pulses of their team.",
        "Wird zu den Pulsen des eigenen Teams eingeladen.",
    ),
    (
        "Deactivated: invited to nothing, cannot sign in.",
        "Deaktiviert: wird zu nichts eingeladen und kann sich nicht anmelden.",
    ),
    (
        "The mail server refused this address; correcting it tries again.",
        "Der Mailserver hat diese Adresse abgelehnt; wenn Sie sie korrigieren, wird es erneut versucht.",
    ),
    ("Active", "Aktiv"),
    (
        "Unticking deactivates: no invitations to new rounds, and every token and session of theirs stops working now.",
        "Ohne Haken deaktiviert: keine Einladungen zu neuen Runden, und alle Tokens und Sitzungen der Person funktionieren ab sofort nicht mehr.",
    ),
    ("Leads no team.", "Leitet kein Team."),
    ("Leads (as manager):", "Leitet (als Führungskraft):"),
    ("Holds no role grant.", "Hat keine Rolle."),
    ("Revoke {}", "{} entziehen"),
    ("Grant a role", "Rolle vergeben"),
    (
        "Admin: configures safepulse",
        "Admin: konfiguriert safepulse",
    ),
    ("Grant", "Vergeben"),
    ("Erase", "Löschen"),
    ("Erase {}…", "{} löschen …"),
    (
        "(asks before anything happens)",
        "(fragt nach, bevor etwas geschieht)",
    ),
    ("Email address", "E-Mail-Adresse"),
    (
        "— no team: role grants only, never surveyed —",
        "— kein Team: nur Rollen, wird nie befragt —",
    ),
    (
        "People in a team are invited to its pulses. HR analysts and administrators who should not be surveyed belong to no team.",
        "Personen in einem Team werden zu dessen Pulsen eingeladen. HR-Analystinnen und -Analysten und Admins, die nicht befragt werden sollen, gehören zu keinem Team.",
    ),
    (
        "Language of emails and pages",
        "Sprache der E-Mails und Seiten",
    ),
    ("the team's", "die des Teams"),
    (
        "Only when it differs from the team's (an IANA name such as America/New_York).",
        "Nur wenn sie von der des Teams abweicht (ein IANA-Name wie America/New_York).",
    ),
    // Erasure
    ("Erase {}", "{} löschen"),
    ("Erase {}?", "{} löschen?"),
    (
        "Erasure cannot be undone. To stop inviting someone for a while, deactivate them instead:",
        "Das Löschen lässt sich nicht rückgängig machen. Um jemanden eine Zeit lang nicht einzuladen, deaktivieren Sie die Person stattdessen:",
    ),
    ("back to their page", "zurück zu ihrer Seite"),
    ("Destroyed now", "Sofort vernichtet"),
    (
        "their record: name, email address ({}), team, language and time zone;",
        "ihr Datensatz: Name, E-Mail-Adresse ({}), Team, Sprache und Zeitzone;",
    ),
    (
        "the teams they lead and their role grants;",
        "die Teams, die sie leitet, und ihre Rollen;",
    ),
    (
        "every API token and dashboard session of theirs;",
        "alle ihre API-Tokens und Dashboard-Sitzungen;",
    ),
    (
        "their invitations and any email to them not yet sent;",
        "ihre Einladungen und alle noch nicht versendeten E-Mails an sie;",
    ),
    (
        "in a round still open, their answer, if they gave one (found by recomputing its ballot).",
        "in einer noch offenen Runde ihre Antwort, falls sie geantwortet hat (gefunden durch Neuberechnung ihres Stimmzettels).",
    ),
    ("Kept", "Bleibt erhalten"),
    (
        "results of closed rounds: they are aggregates over groups and never held anything that points to a person;",
        "Ergebnisse geschlossener Runden: Sie sind Zusammenfassungen über Gruppen und enthielten nie etwas, das auf eine Person verweist;",
    ),
    (
        "the audit log's entries, which name them by id only (never by address) and say that they were erased;",
        "die Einträge im Audit-Protokoll, die die Person nur mit ihrer ID nennen (nie mit der Adresse) und festhalten, dass sie gelöscht wurde;",
    ),
    (
        "the count of people each past round invited.",
        "die Zahl der Personen, die jede vergangene Runde eingeladen hat.",
    ),
    ("Erase {} for good", "{} endgültig löschen"),
    // CSV upload
    ("Upload people as CSV", "Personen als CSV hochladen"),
    (
        "The file is checked and every line's outcome shown before anything changes. Nothing is applied until you confirm.",
        "Die Datei wird geprüft, und Sie sehen für jede Zeile das Ergebnis, bevor sich etwas ändert. Übernommen wird erst, wenn Sie bestätigen.",
    ),
    (
        "The first line is the header:",
        "Die erste Zeile ist die Kopfzeile:",
    ),
    (
        "team: a path such as Engineering/Platform (created as needed);",
        "team: ein Pfad wie Engineering/Platform (wird bei Bedarf angelegt);",
    ),
    ("leads: true or false;", "leads: true oder false;"),
    ("locale: en or de.", "locale: en oder de."),
    (
        "UTF-8, separated by commas, at most 50,000 lines. An address already known is updated; people not in the file are left alone.",
        "UTF-8, durch Kommas getrennt, höchstens 50.000 Zeilen. Eine bereits bekannte Adresse wird aktualisiert; Personen, die nicht in der Datei stehen, bleiben unverändert.",
    ),
    ("CSV file", "CSV-Datei"),
    ("Check the file", "Datei prüfen"),
    (
        "Choose a CSV file first.",
        "Bitte wählen Sie zuerst eine CSV-Datei.",
    ),
    ("Check the upload", "Upload prüfen"),
    ("What this file would do", "Was diese Datei bewirken würde"),
    ("Nothing has changed yet.", "Noch hat sich nichts geändert."),
    ("created", "angelegt"),
    ("updated", "aktualisiert"),
    ("unchanged", "unverändert"),
    ("rejected", "abgelehnt"),
    ("Line", "Zeile"),
    ("Outcome", "Ergebnis"),
    (
        "Apply the {} valid lines and skip the {} rejected ones",
        "Die {} gültigen Zeilen übernehmen und die {} abgelehnten überspringen",
    ),
    ("Apply", "Übernehmen"),
    ("Choose another file", "Andere Datei wählen"),
    ("Upload applied", "Upload übernommen"),
    (
        "{} rejected lines skipped",
        "{} abgelehnte Zeilen übersprungen",
    ),
    ("Nothing was applied", "Nichts wurde übernommen"),
    ("{} lines are invalid.", "{} Zeilen sind ungültig."),
    (
        "Upload the file again to see them.",
        "Laden Sie die Datei erneut hoch, um sie zu sehen.",
    ),
    // Surveys
    (
        "A survey asks a few items of its teams on a cadence. New surveys are drafts: nothing is sent until you start one.",
        "Eine Befragung stellt ihren Teams in festem Rhythmus einige Fragen. Neue Befragungen sind Entwürfe: Nichts wird versendet, bevor Sie eine starten.",
    ),
    ("New survey", "Neue Befragung"),
    ("No surveys yet.", "Noch keine Befragungen."),
    ("Survey", "Befragung"),
    (
        "Nothing is sent until you start it; then its rounds open on its cadence, from {}.",
        "Nichts wird versendet, bevor Sie sie starten; dann öffnen ihre Runden in ihrem Rhythmus, ab {}.",
    ),
    (
        "Rounds open on its cadence.",
        "Runden öffnen in ihrem Rhythmus.",
    ),
    (
        "No new rounds open until you resume it.",
        "Keine neuen Runden öffnen, bis Sie sie fortsetzen.",
    ),
    (
        "Archived: no new rounds; its results stay readable.",
        "Archiviert: keine neuen Runden; ihre Ergebnisse bleiben lesbar.",
    ),
    (
        "Preview the answer page and the invitation email",
        "Vorschau der Antwortseite und der Einladungs-E-Mail",
    ),
    ("Start the survey", "Befragung starten"),
    ("Open a round now…", "Jetzt eine Runde öffnen …"),
    (
        "(asks before anything is sent)",
        "(fragt nach, bevor etwas versendet wird)",
    ),
    ("Pause", "Pausieren"),
    ("Resume", "Fortsetzen"),
    ("Archive for good", "Endgültig archivieren"),
    (
        "It is saved as a draft: nothing is sent until you start it.",
        "Sie wird als Entwurf gespeichert: Nichts wird versendet, bevor Sie sie starten.",
    ),
    ("Teams asked", "Befragte Teams"),
    ("Create teams first:", "Legen Sie zuerst Teams an:"),
    ("Include their sub-teams", "Ihre Unterteams einschließen"),
    ("Questions", "Fragen"),
    (
        "Rotating through the item bank",
        "Wechselnd aus dem Fragenkatalog",
    ),
    ("Items per round (5–10)", "Fragen pro Runde (5–10)"),
    (
        "Ask the 0–10 recommendation item every … rounds (empty: never)",
        "Die Weiterempfehlungsfrage (0–10) alle … Runden stellen (leer: nie)",
    ),
    (
        "The same items every round:",
        "In jeder Runde dieselben Fragen:",
    ),
    ("Choose items", "Fragen auswählen"),
    ("When rounds open", "Wann Runden öffnen"),
    ("How often", "Wie oft"),
    ("Every week", "Jede Woche"),
    ("Every few weeks", "Alle paar Wochen"),
    ("Every month", "Jeden Monat"),
    (
        "Weeks between rounds (every few weeks: 1–8)",
        "Wochen zwischen den Runden (alle paar Wochen: 1–8)",
    ),
    ("Week of the month (monthly)", "Woche im Monat (monatlich)"),
    ("Weekday", "Wochentag"),
    (
        "Local time in each team's time zone (HH:MM)",
        "Ortszeit in der Zeitzone jedes Teams (HH:MM)",
    ),
    ("Allow weekends", "Wochenenden erlauben"),
    (
        "Quiet hours from (HH:MM, default 20:00)",
        "Ruhezeit von (HH:MM, Standard 20:00)",
    ),
    (
        "until (HH:MM, default 07:00)",
        "bis (HH:MM, Standard 07:00)",
    ),
    (
        "Start date: no round opens before",
        "Startdatum: Keine Runde öffnet vor dem",
    ),
    (
        "Hours a round stays open (24–336)",
        "Stunden, die eine Runde offen bleibt (24–336)",
    ),
    ("Reminders", "Erinnerungen"),
    (
        "Hours after opening, separated by commas (at most 3)",
        "Stunden nach dem Öffnen, durch Kommas getrennt (höchstens 3)",
    ),
    (
        "Remind only people who have not answered",
        "Nur Personen erinnern, die noch nicht geantwortet haben",
    ),
    (
        "Off by default: to remind only them, the mail system learns who had not answered yet. Reminders to everyone say “if you have already answered, thank you”.",
        "Standardmäßig aus: Um nur sie zu erinnern, erfährt das Mailsystem, wer noch nicht geantwortet hat. Erinnerungen an alle sagen „falls Sie schon geantwortet haben, danke“.",
    ),
    ("Privacy thresholds", "Schwellen für den Datenschutz"),
    (
        "A team's scores appear only when at least k people answered (never below {}); its spread, agreement and comments only from k_detail (never below {}, nor below k).",
        "Die Werte eines Teams erscheinen erst, wenn mindestens k Personen geantwortet haben (nie unter {}); Streuung, Übereinstimmung und Kommentare erst ab k_detail (nie unter {} und nie unter k).",
    ),
    (
        "Higher is safer; teams smaller than the thresholds are hidden and show in their department. Each round keeps the thresholds it opened with.",
        "Höher ist sicherer; Teams unter den Schwellen werden verborgen und erscheinen in ihrer Abteilung. Jede Runde behält die Schwellen, mit denen sie geöffnet wurde.",
    ),
    ("k (at least {})", "k (mindestens {})"),
    ("k_detail (at least {})", "k_detail (mindestens {})"),
    (
        "When comparing with an earlier round could single someone out",
        "Wenn ein Vergleich mit einer früheren Runde jemanden erkennbar machen könnte",
    ),
    (
        "hide the group's figures for that round",
        "die Werte der Gruppe für diese Runde verbergen",
    ),
    (
        "show them rounded (dimension means on a coarse grid)",
        "sie gerundet zeigen (Mittelwerte der Dimensionen auf grobem Raster)",
    ),
    ("Save as draft", "Als Entwurf speichern"),
    ("Rounds", "Runden"),
    ("No round has opened.", "Noch keine Runde wurde geöffnet."),
    // Preview and test email
    ("Preview {}", "Vorschau: {}"),
    (
        "What respondents will see",
        "Was die Befragten sehen werden",
    ),
    (
        "The next round as a member of {} gets it: {} questions, from the real templates.",
        "Die nächste Runde, wie ein Mitglied von {} sie erhält: {} Fragen, aus den echten Vorlagen.",
    ),
    (
        "Nothing here creates a round, an invitation or a link.",
        "Nichts hier legt eine Runde, eine Einladung oder einen Link an.",
    ),
    (
        "A test email is on its way to {}. It is marked as a test, and it is counted in no round.",
        "Eine Test-E-Mail ist unterwegs an {}. Sie ist als Test gekennzeichnet und zählt in keiner Runde.",
    ),
    ("Answer page", "Antwortseite"),
    ("Invitation email", "Einladungs-E-Mail"),
    ("Subject:", "Betreff:"),
    (
        "The HTML part as sent",
        "Der HTML-Teil, wie er versendet wird",
    ),
    ("Send a test email to me", "Test-E-Mail an mich senden"),
    ("Language", "Sprache"),
    (
        "To {}, with “[TEST]” in the subject and a note in the text; its link opens this preview.",
        "An {}, mit „[TEST]“ im Betreff und einem Hinweis im Text; ihr Link öffnet diese Vorschau.",
    ),
    // Rounds
    ("Open a round of {}", "Eine Runde von {} öffnen"),
    ("Open a round now?", "Jetzt eine Runde öffnen?"),
    (
        "invitation will be sent by email, with a personal one-time link, to these teams:",
        "Einladung wird per E-Mail mit einem persönlichen Einmal-Link an diese Teams versendet:",
    ),
    (
        "invitations will be sent by email, each with a personal one-time link, to these teams:",
        "Einladungen werden per E-Mail, jede mit einem persönlichen Einmal-Link, an diese Teams versendet:",
    ),
    ("Invitations", "Einladungen"),
    (
        "Deactivated people and addresses the mail server refused get nothing. Leaders answer in the Leadership group. Teams in another time zone get their emails at the survey's local time.",
        "Deaktivierte Personen und Adressen, die der Mailserver abgelehnt hat, erhalten nichts. Leitende antworten in der Gruppe „Führungskreis“. Teams in einer anderen Zeitzone erhalten ihre E-Mails zur Ortszeit der Befragung.",
    ),
    ("Send 1 invitation now", "1 Einladung jetzt senden"),
    ("Send {} invitations now", "{} Einladungen jetzt senden"),
    ("The survey is {}.", "Die Befragung ist im Status „{}“."),
    ("Start it first.", "Starten Sie sie zuerst."),
    (
        "Nothing can be sent now.",
        "Jetzt kann nichts versendet werden.",
    ),
    ("Round {} of {}", "Runde {} von {}"),
    ("Round {}", "Runde {}"),
    ("{} invited", "{} eingeladen"),
    (
        "{} addresses refused by the mail server",
        "{} Adressen vom Mailserver abgelehnt",
    ),
    ("Opened {}.", "Geöffnet: {}."),
    ("Closed {}.", "Geschlossen: {}."),
    ("Closes {}.", "Schließt: {}."),
    ("Teams:", "Teams:"),
    ("Participation so far", "Beteiligung bisher"),
    (
        "Only what reports may show while a round is open: for groups of at least twice the threshold, the number of answers rounded down to a multiple of k ({}), refreshed about once a day. Nothing else about a round is shown before it closes.",
        "Nur, was Berichte zeigen dürfen, solange eine Runde offen ist: für Gruppen mit mindestens doppelt so vielen Personen wie die Schwelle die Zahl der Antworten, abgerundet auf ein Vielfaches von k ({}), etwa einmal am Tag aktualisiert. Mehr wird über eine Runde nicht gezeigt, bevor sie schließt.",
    ),
    ("No figure yet.", "Noch keine Zahl."),
    ("at least {} of {}", "mindestens {} von {}"),
    ("Close now", "Jetzt schließen"),
    (
        "Closing ends the round for everyone: unanswered links stop working, the results are computed and frozen, and the round's keys are destroyed. It cannot be undone.",
        "Das Schließen beendet die Runde für alle: Unbeantwortete Links funktionieren nicht mehr, die Ergebnisse werden berechnet und festgeschrieben, und die Schlüssel der Runde werden vernichtet. Das lässt sich nicht rückgängig machen.",
    ),
    ("Close round {} now", "Runde {} jetzt schließen"),
    // Access
    (
        "The new token, shown this once:",
        "Das neue Token, nur dieses eine Mal angezeigt:",
    ),
    (
        "copy it now; safepulse keeps only its id.",
        "Kopieren Sie es jetzt; safepulse speichert nur seine ID.",
    ),
    (
        "API token for an integration",
        "API-Token für eine Integration",
    ),
    (
        "HR integrations read released results through /api/v1 with a bearer token. A token for a person's address works only while they hold its role; any other address makes a service token.",
        "HR-Integrationen lesen freigegebene Ergebnisse über /api/v1 mit einem Bearer-Token. Ein Token für die Adresse einer Person funktioniert nur, solange sie die Rolle hat; jede andere Adresse ergibt ein Service-Token.",
    ),
    ("For (an email address)", "Für (eine E-Mail-Adresse)"),
    ("Role", "Rolle"),
    (
        "hr: reads every released result",
        "hr: liest alle freigegebenen Ergebnisse",
    ),
    ("admin: configures", "admin: konfiguriert"),
    (
        "manager: reads the teams they lead",
        "manager: liest die Teams, die die Person leitet",
    ),
    (
        "scim: an identity provider provisions people and teams",
        "scim: ein Identitätsanbieter legt Personen und Teams an",
    ),
    (
        "Valid for (e.g. 30d, 12h; at most 366d)",
        "Gültig für (z. B. 30d, 12h; höchstens 366d)",
    ),
    ("Issue token", "Token ausstellen"),
    (
        "Tokens and sessions that still work, by subject",
        "Tokens und Sitzungen, die noch gelten, nach Inhaber",
    ),
    ("None.", "Keine."),
    (
        "(service token: no person)",
        "(Service-Token: keine Person)",
    ),
    ("Kind", "Art"),
    ("Expires", "Läuft ab"),
    ("Revoke", "Widerrufen"),
    ("sign-in session", "Anmeldesitzung"),
    ("API token", "API-Token"),
    (
        "Roles are revoked on each person's page; that revokes their tokens and sessions of the role too.",
        "Rollen entziehen Sie auf der Seite der jeweiligen Person; damit werden auch ihre Tokens und Sitzungen dieser Rolle widerrufen.",
    ),
    // Audit log
    (
        "Every change to the organisation, surveys, rounds, roles and tokens, and every report view; never anything about an answer.",
        "Jede Änderung an Organisation, Befragungen, Runden, Rollen und Tokens und jeder Blick in einen Bericht; nie etwas über eine Antwort.",
    ),
    ("Action starts with", "Aktion beginnt mit"),
    ("team. or token.revoked", "team. oder token.revoked"),
    ("Actor", "Wer"),
    ("someone@example.com or cli", "jemand@example.com oder cli"),
    ("Filter", "Filtern"),
    ("No entries.", "Keine Einträge."),
    ("When (UTC)", "Wann (UTC)"),
    ("Action", "Aktion"),
    ("Target", "Ziel"),
    (
        "The newest 200 entries that match.",
        "Die neuesten 200 passenden Einträge.",
    ),
    // Dashboard: charts
    (
        "hidden to protect anonymity",
        "zum Schutz der Anonymität verborgen",
    ),
    (
        "about {} (rounded to protect anonymity)",
        "etwa {} (zum Schutz der Anonymität gerundet)",
    ),
    (
        "One released pulse so far: the dot is its mean, the bar its 95% interval. A line with its band appears from the second released pulse on.",
        "Bisher ein freigegebener Puls: Der Punkt ist sein Mittelwert, der Balken sein 95-%-Intervall. Eine Linie mit Band erscheint ab dem zweiten freigegebenen Puls.",
    ),
    (
        "Mean per pulse (line) with its 95% interval (shaded).",
        "Mittelwert je Puls (Linie) mit seinem 95-%-Intervall (schattiert).",
    ),
    (
        "A dot with a bar: a released pulse without released neighbours, with its 95% interval.",
        "Ein Punkt mit Balken: ein freigegebener Puls ohne freigegebene Nachbarn, mit seinem 95-%-Intervall.",
    ),
    (
        "Grey columns: pulses hidden to protect anonymity.",
        "Graue Spalten: Pulse, die zum Schutz der Anonymität verborgen sind.",
    ),
    (
        "A dot without line or bar: a pulse shown rounded to protect anonymity.",
        "Ein Punkt ohne Linie und Balken: ein Puls, der zum Schutz der Anonymität gerundet gezeigt wird.",
    ),
    ("Mean per pulse.", "Mittelwert je Puls."),
    ("{} (95% interval {})", "{} (95-%-Intervall {})"),
    (
        "mean per round on a scale from {} to {}",
        "Mittelwert je Runde auf einer Skala von {} bis {}",
    ),
    ("1 round", "1 Runde"),
    ("{} rounds", "{} Runden"),
    ("from {} to {}", "von {} bis {}"),
    ("{} in {}", "{} in {}"),
    ("Released in 1 round", "Freigegeben in 1 Runde"),
    ("Released in {} rounds", "Freigegeben in {} Runden"),
    ("lowest {}", "am niedrigsten {}"),
    ("highest {}", "am höchsten {}"),
    (
        "Hidden to protect anonymity: {}.",
        "Zum Schutz der Anonymität verborgen: {}.",
    ),
    ("about {}", "etwa {}"),
    (
        "Rounded to protect anonymity: {}.",
        "Zum Schutz der Anonymität gerundet: {}.",
    ),
    // Dashboard: overview
    (
        "about {} of {} (rounded to protect anonymity)",
        "etwa {} von {} (zum Schutz der Anonymität gerundet)",
    ),
    ("{} of {}", "{} von {}"),
    ("{} clearly lower", "{} deutlich niedriger"),
    ("{} clearly higher", "{} deutlich höher"),
    (
        "no clear change since last time",
        "keine klare Veränderung seit dem letzten Mal",
    ),
    ("{} than last time", "{} als beim letzten Mal"),
    (
        "team changed, not compared",
        "Team verändert, nicht verglichen",
    ),
    (
        "open: at least {} answered so far",
        "offen: bisher mindestens {} Antworten",
    ),
    ("{} of {} answered", "{} von {} haben geantwortet"),
    ("{} answered", "{} haben geantwortet"),
    ("Your teams", "Ihre Teams"),
    ("All teams", "Alle Teams"),
    (
        "Results appear after a pulse closes, only for groups large enough to keep answers anonymous.",
        "Ergebnisse erscheinen, wenn ein Puls geschlossen ist, und nur für Gruppen, die groß genug sind, damit die Antworten anonym bleiben.",
    ),
    ("HR reads every team.", "HR liest alle Teams."),
    (
        "You read the teams you lead, the teams below them and the department above.",
        "Sie lesen die Teams, die Sie leiten, die Teams darunter und die Abteilung darüber.",
    ),
    (
        "There are no teams for you to read yet.",
        "Noch gibt es keine Teams, die Sie lesen können.",
    ),
    (
        "Teams, as they are organised",
        "Teams, wie sie organisiert sind",
    ),
    ("lowest is {}, {}", "am niedrigsten ist {}, {}"),
    ("no results yet", "noch keine Ergebnisse"),
    ("Closed rounds", "Geschlossene Runden"),
    (
        "The heatmap shows every team you read in one round, side by side.",
        "Die Heatmap zeigt alle Teams, die Sie lesen, in einer Runde nebeneinander.",
    ),
    ("closed {}", "geschlossen am {}"),
    // Dashboard: team page
    ("released", "freigegeben"),
    (
        "rounded to protect anonymity",
        "zum Schutz der Anonymität gerundet",
    ),
    (
        "{} of {} people answered",
        "{} von {} Personen haben geantwortet",
    ),
    ("{} people answered.", "{} Personen haben geantwortet."),
    ("{} is open until {}.", "{} ist offen bis {}."),
    (
        "At least {} people have answered so far. This count is updated once a day and rounded down to a multiple of {} to protect anonymity, so it reads 0 on the first day by design.",
        "Bisher haben mindestens {} Personen geantwortet. Diese Zahl wird einmal am Tag aktualisiert und zum Schutz der Anonymität auf ein Vielfaches von {} abgerundet; am ersten Tag steht sie deshalb absichtlich auf 0.",
    ),
    ("{}, was {}", "{}, zuvor {}"),
    (
        "Clearly lower than last time: {}.",
        "Deutlich niedriger als beim letzten Mal: {}.",
    ),
    (
        "Clearly higher than last time: {}.",
        "Deutlich höher als beim letzten Mal: {}.",
    ),
    (
        "Falling over the last {} released pulses: {}.",
        "Fallend über die letzten {} freigegebenen Pulse: {}.",
    ),
    (
        "Rising over the last {} released pulses: {}.",
        "Steigend über die letzten {} freigegebenen Pulse: {}.",
    ),
    ("Lowest: {}, {}.", "Am niedrigsten: {}, {}."),
    (
        "Everything else is within normal variation since last time.",
        "Alles andere liegt seit dem letzten Mal im Rahmen der normalen Schwankung.",
    ),
    (
        "With this few answers a change since last time cannot be told apart from chance; the trend over several pulses is the better guide.",
        "Bei so wenigen Antworten lässt sich eine Veränderung seit dem letzten Mal nicht vom Zufall unterscheiden; der Verlauf über mehrere Pulse ist der bessere Anhaltspunkt.",
    ),
    (
        "The team changed since the last pulse, so this pulse is not compared with it.",
        "Das Team hat sich seit dem letzten Puls verändert; deshalb wird dieser Puls nicht damit verglichen.",
    ),
    (
        "First results: nothing to compare with yet.",
        "Erste Ergebnisse: noch nichts zum Vergleichen.",
    ),
    (
        "Over the last {} released pulses: falling steadily.",
        "Über die letzten {} freigegebenen Pulse: stetig fallend.",
    ),
    (
        "Over the last {} released pulses: rising steadily.",
        "Über die letzten {} freigegebenen Pulse: stetig steigend.",
    ),
    (
        "Over the last {} released pulses: no clear direction.",
        "Über die letzten {} freigegebenen Pulse: keine klare Richtung.",
    ),
    (
        "Over the last {} released pulses: unchanged.",
        "Über die letzten {} freigegebenen Pulse: unverändert.",
    ),
    (
        "Trend: least-squares slope {} per pulse over {} pulses",
        "Trend: Steigung nach kleinsten Quadraten {} je Puls über {} Pulse",
    ),
    (
        "t = {} with {} degrees of freedom",
        "t = {} bei {} Freiheitsgraden",
    ),
    (", exactly on a line.", ", genau auf einer Linie."),
    (
        "A trend is shown from the third released pulse on.",
        "Ein Trend wird ab dem dritten freigegebenen Puls gezeigt.",
    ),
    (
        "At this team's size, only changes of {} or more between two pulses stand out from chance.",
        "Bei der Größe dieses Teams heben sich nur Veränderungen ab {} zwischen zwei Pulsen vom Zufall ab.",
    ),
    (
        "Minimum detectable change (80% power, two-sided α = .05): {}.",
        "Kleinste erkennbare Veränderung (Teststärke 80 %, zweiseitig α = 0,05): {}.",
    ),
    (
        "The team largely agrees.",
        "Das Team ist sich weitgehend einig.",
    ),
    (
        "Answers are split: some see it very differently from others.",
        "Die Antworten sind gespalten: Manche sehen es ganz anders als andere.",
    ),
    (
        "Answers vary a lot.",
        "Die Antworten gehen weit auseinander.",
    ),
    (
        "Agreement rwg(j) {} (Lindell's r*wg(j) {})",
        "Übereinstimmung rwg(j) {} (r*wg(j) nach Lindell {})",
    ),
    ("standard deviation {}", "Standardabweichung {}"),
    ("of {} · rounded", "von {} · gerundet"),
    (
        "latest pulse hidden to protect anonymity",
        "letzter Puls zum Schutz der Anonymität verborgen",
    ),
    (
        "not asked in the latest pulse",
        "im letzten Puls nicht gefragt",
    ),
    (
        "No pulse has closed yet.",
        "Noch ist kein Puls geschlossen.",
    ),
    (
        "No change shown: {} is hidden to protect anonymity.",
        "Keine Veränderung gezeigt: {} ist zum Schutz der Anonymität verborgen.",
    ),
    ("hidden", "verborgen"),
    (
        "No change shown: {} is rounded to protect anonymity.",
        "Keine Veränderung gezeigt: {} ist zum Schutz der Anonymität gerundet.",
    ),
    ("rounded", "gerundet"),
    (
        "No earlier released pulse to compare with.",
        "Kein früherer freigegebener Puls zum Vergleichen.",
    ),
    ("first results", "erste Ergebnisse"),
    (
        "Not compared with the last pulse: the team changed since, so the two describe different groups.",
        "Nicht mit dem letzten Puls verglichen: Das Team hat sich seitdem verändert, die beiden beschreiben also verschiedene Gruppen.",
    ),
    (
        "Not asked in both pulses.",
        "Nicht in beiden Pulsen gefragt.",
    ),
    ("not compared", "nicht verglichen"),
    (
        "clearly lower than last time",
        "deutlich niedriger als beim letzten Mal",
    ),
    (
        "clearly higher than last time",
        "deutlich höher als beim letzten Mal",
    ),
    (
        "within normal variation",
        "im Rahmen der normalen Schwankung",
    ),
    (
        "too few answers to tell",
        "zu wenige Antworten für eine Aussage",
    ),
    (
        "{}, was {} last time: with this few answers a change cannot be told apart from chance.",
        "{}, beim letzten Mal {}: Bei so wenigen Antworten lässt sich eine Veränderung nicht vom Zufall unterscheiden.",
    ),
    (
        "Welch's t-test t = {} with {} degrees of freedom",
        "Welch-t-Test t = {} bei {} Freiheitsgraden",
    ),
    (
        "significant (p < .05 and a change of at least 0.5).",
        "signifikant (p < 0,05 und eine Veränderung um mindestens 0,5).",
    ),
    (
        "not significant (p < .05 and a change of at least 0.5).",
        "nicht signifikant (p < 0,05 und eine Veränderung um mindestens 0,5).",
    ),
    (
        "Significance not tested: that needs spread released in both pulses and at least 8 answers.",
        "Signifikanz nicht getestet: Dafür braucht es in beiden Pulsen freigegebene Streuung und mindestens 8 Antworten.",
    ),
    ("Change {}", "Veränderung {}"),
    ("(from {} to {}).", "(von {} auf {})."),
    ("{} and {}", "{} und {}"),
    ("{} (department)", "{} (Abteilung)"),
    (
        "No closed round yet. Results appear here after the first pulse closes.",
        "Noch keine geschlossene Runde. Ergebnisse erscheinen hier, wenn der erste Puls geschlossen ist.",
    ),
    (
        "Rounded to protect anonymity",
        "Zum Schutz der Anonymität gerundet",
    ),
    (
        "Hidden to protect anonymity",
        "Zum Schutz der Anonymität verborgen",
    ),
    ("See the results of {}", "Die Ergebnisse von {} ansehen"),
    (
        ", the nearest larger group shown for this pulse.",
        ", der nächstgrößeren Gruppe, die für diesen Puls gezeigt wird.",
    ),
    (
        "Team changed since the last pulse: the latest results are not comparable with the ones before.",
        "Das Team hat sich seit dem letzten Puls verändert: Die neuesten Ergebnisse sind mit den früheren nicht vergleichbar.",
    ),
    (
        "Team changed since the last pulse.",
        "Das Team hat sich seit dem letzten Puls verändert.",
    ),
    (
        "People joined or left this team in the two weeks before the latest pulse opened. Read changes with care.",
        "In den zwei Wochen vor dem letzten Puls sind Personen zu diesem Team gekommen oder gegangen. Lesen Sie Veränderungen mit Vorsicht.",
    ),
    ("Suggested conversation: {}", "Vorgeschlagenes Gespräch: {}"),
    ("Ask the team: “{}”", "Fragen Sie das Team: „{}“"),
    (
        "What a low score can mean, and more questions",
        "Was ein niedriger Wert bedeuten kann, und weitere Fragen",
    ),
    ("Comments", "Kommentare"),
    (
        "Word for word, in random order, without dates.",
        "Wörtlich, in zufälliger Reihenfolge, ohne Datum.",
    ),
    (
        "Comments, spread and agreement are shown only when enough people answered; the department’s view may show them:",
        "Kommentare, Streuung und Übereinstimmung werden nur gezeigt, wenn genug Personen geantwortet haben; die Ansicht der Abteilung zeigt sie vielleicht:",
    ),
    (
        "Comments, spread and agreement are shown only when enough people answered; not for this team’s latest results.",
        "Kommentare, Streuung und Übereinstimmung werden nur gezeigt, wenn genug Personen geantwortet haben; für die neuesten Ergebnisse dieses Teams nicht.",
    ),
    ("Details per dimension", "Details je Dimension"),
    ("{} over pulses", "{} über die Pulse"),
    ("Table: {} per pulse", "Tabelle: {} je Puls"),
    ("{} per pulse, table", "{} je Puls, Tabelle"),
    ("Pulse", "Puls"),
    ("Mean", "Mittelwert"),
    ("95% interval", "95-%-Intervall"),
    ("Favourable", "Zustimmend"),
    ("not asked in this pulse", "in diesem Puls nicht gefragt"),
    (
        "Questions in the latest released pulse",
        "Fragen im letzten freigegebenen Puls",
    ),
    (
        "Mean {} (95% interval {})",
        "Mittelwert {} (95-%-Intervall {})",
    ),
    ("{} favourable", "{} zustimmend"),
    (
        "Answers per scale point: {}",
        "Antworten je Skalenpunkt: {}",
    ),
    ("Conversation guide: {}", "Gesprächsleitfaden: {}"),
    (
        "Questions to open the conversation:",
        "Fragen, um das Gespräch zu eröffnen:",
    ),
    (
        "Talk about what the team experiences, not about who answered what. Go first, listen more than you speak, and agree on one small next step.",
        "Sprechen Sie darüber, was das Team erlebt, nicht darüber, wer was geantwortet hat. Gehen Sie voran, hören Sie mehr zu, als Sie reden, und vereinbaren Sie einen kleinen nächsten Schritt.",
    ),
    ("For analysts: {}", "Für Analysen: {}"),
    ("Pulses", "Pulse"),
    ("Pulses of {}, table", "Pulse von {}, Tabelle"),
    ("Closed", "Geschlossen"),
    ("Result", "Ergebnis"),
    ("Answered", "Geantwortet"),
    (
        "(team changed since the last pulse)",
        "(Team seit dem letzten Puls verändert)",
    ),
    (
        "(people joined or left in the two weeks before)",
        "(Personen in den zwei Wochen davor gekommen oder gegangen)",
    ),
    (
        "Why some pulses are hidden",
        "Warum manche Pulse verborgen sind",
    ),
    (
        "safepulse shows a group's results only when nobody can be singled out from them. So it hides them, or shows them only rounded, when too few people answered, when the group changed since its last results, or when setting them against another group's or an earlier pulse's results could reveal what one person answered; this can happen even when many people answered. It never says which of these applied, nor how many answered, because that too would say something about who answered. The answers still count in the results of the larger groups above.",
        "safepulse zeigt die Ergebnisse einer Gruppe nur, wenn niemand aus ihnen herausgelesen werden kann. Deshalb verbirgt es sie oder zeigt sie nur gerundet, wenn zu wenige Personen geantwortet haben, wenn sich die Gruppe seit ihren letzten Ergebnissen verändert hat oder wenn ein Vergleich mit den Ergebnissen einer anderen Gruppe oder eines früheren Pulses verraten könnte, was eine Person geantwortet hat; das kann auch passieren, wenn viele geantwortet haben. Es sagt nie, welcher dieser Gründe zutraf oder wie viele geantwortet haben, denn auch das würde etwas darüber verraten, wer geantwortet hat. Die Antworten zählen weiterhin in den Ergebnissen der größeren Gruppen darüber.",
    ),
    (
        "How safepulse protects anonymity (the full privacy model)",
        "Wie safepulse die Anonymität schützt (das vollständige Datenschutzmodell)",
    ),
    // Dashboard: heatmap
    (
        "well below the organisation",
        "deutlich unter der Organisation",
    ),
    ("below the organisation", "unter der Organisation"),
    ("above the organisation", "über der Organisation"),
    (
        "well above the organisation",
        "deutlich über der Organisation",
    ),
    ("close to the organisation", "nahe an der Organisation"),
    ("0.5 or more below", "0,5 oder mehr darunter"),
    ("0.25 to 0.5 below", "0,25 bis 0,5 darunter"),
    ("0.25 to 0.5 above", "0,25 bis 0,5 darüber"),
    ("0.5 or more above", "0,5 oder mehr darüber"),
    ("within 0.25", "innerhalb von 0,25"),
    ("Leadership group", "Führungskreis"),
    ("Heatmap: {}", "Heatmap: {}"),
    (
        "Each team's mean per dimension and its share of favourable answers, coloured by how far the mean is from {}, the whole organisation, in the same round.",
        "Der Mittelwert jedes Teams je Dimension und sein Anteil zustimmender Antworten, eingefärbt danach, wie weit der Mittelwert von {}, der ganzen Organisation, in derselben Runde entfernt ist.",
    ),
    (
        "The organisation's figures this round are rounded to protect anonymity, so small differences are uncertain.",
        "Die Werte der Organisation sind in dieser Runde zum Schutz der Anonymität gerundet; kleine Unterschiede sind daher unsicher.",
    ),
    (
        "The symbol and the signed difference say the same as the colour.",
        "Das Symbol und die Differenz mit Vorzeichen sagen dasselbe wie die Farbe.",
    ),
    ("Colour key", "Farblegende"),
    ("org", "Org."),
    (
        "the organisation's own figures",
        "die Werte der Organisation selbst",
    ),
    (
        "Differences are in scale points on the 1–7 scale (the recommendation question, on 0–10, in proportion).",
        "Unterschiede sind in Skalenpunkten auf der Skala von 1 bis 7 angegeben (die Weiterempfehlungsfrage auf 0 bis 10 entsprechend umgerechnet).",
    ),
    (
        "Each team's mean per dimension and its share of favourable answers. The organisation's figure for this round is not among the results you read, so the cells are not compared with it.",
        "Der Mittelwert jedes Teams je Dimension und sein Anteil zustimmender Antworten. Der Wert der Organisation für diese Runde gehört nicht zu den Ergebnissen, die Sie lesen; die Zellen werden daher nicht damit verglichen.",
    ),
    (
        "Swipe the table sideways for all {} dimensions →",
        "Wischen Sie die Tabelle seitwärts für alle {} Dimensionen →",
    ),
    (
        "Heatmap table, scrolls sideways",
        "Heatmap-Tabelle, seitwärts scrollbar",
    ),
    ("Teams by dimension, {}", "Teams nach Dimension, {}"),
    ("(organisation)", "(Organisation)"),
    ("Download this table:", "Diese Tabelle herunterladen:"),
    ("Excel (XLSX)", "Excel (XLSX)"),
    (
        "Means to 2 decimals, favourable shares to 1; hidden teams stay empty.",
        "Mittelwerte mit 2 Nachkommastellen, zustimmende Anteile mit 1; verborgene Teams bleiben leer.",
    ),
    // Front door and sign-in
    ("Welcome", "Willkommen"),
    (
        "Short, anonymous pulse surveys about trust and psychological safety. Team members answer through the link in their pulse email; nobody can see their individual answers.",
        "Kurze, anonyme Pulsbefragungen zu Vertrauen und psychologischer Sicherheit. Teammitglieder antworten über den Link in ihrer Puls-E-Mail; niemand kann ihre einzelnen Antworten sehen.",
    ),
    ("Sign in", "Anmelden"),
    (
        "managers and HR read their teams' results",
        "Führungskräfte und HR lesen die Ergebnisse ihrer Teams",
    ),
    ("How answers stay anonymous", "Wie Antworten anonym bleiben"),
    (
        "the privacy model, in full",
        "das Datenschutzmodell, vollständig",
    ),
    ("API documentation", "API-Dokumentation"),
    (
        "for HR tools and administrators (OpenAPI)",
        "für HR-Werkzeuge und Admins (OpenAPI)",
    ),
    ("Health check", "Statusprüfung"),
    ("for monitoring", "für die Überwachung"),
    ("Check your email", "Sehen Sie in Ihr Postfach"),
    ("Sign-in link not available", "Anmeldelink nicht verfügbar"),
    ("Signed out", "Abgemeldet"),
    ("Not yours to read", "Nicht für Sie freigegeben"),
    ("Nothing to read", "Nichts zu lesen"),
    (
        "If this address belongs to a manager or to HR here, a sign-in link is on its way. It works once, for 15 minutes.",
        "Wenn diese Adresse hier einer Führungskraft oder HR gehört, ist ein Anmeldelink unterwegs. Er funktioniert einmal, 15 Minuten lang.",
    ),
    (
        "Nothing arrived after a few minutes? Check the spam folder, then ask for a new link:",
        "Nach ein paar Minuten ist nichts angekommen? Sehen Sie im Spam-Ordner nach und fordern Sie dann einen neuen Link an:",
    ),
    (
        "This sign-in link does not work any more",
        "Dieser Anmeldelink funktioniert nicht mehr",
    ),
    (
        "Sign-in links work once and for 15 minutes. This one was used already, has expired, or is incomplete.",
        "Anmeldelinks funktionieren einmal und 15 Minuten lang. Dieser wurde schon benutzt, ist abgelaufen oder unvollständig.",
    ),
    ("Ask for a new sign-in link", "Neuen Anmeldelink anfordern"),
    ("You are signed out", "Sie sind abgemeldet"),
    (
        "Your session has ended on this device.",
        "Ihre Sitzung auf diesem Gerät ist beendet.",
    ),
    ("Sign in again", "Erneut anmelden"),
    (
        "To protect you, safepulse only accepts forms sent from its own pages. Nothing was changed. Please go back and try again.",
        "Zu Ihrem Schutz nimmt safepulse nur Formulare von seinen eigenen Seiten an. Es wurde nichts geändert. Bitte gehen Sie zurück und versuchen Sie es noch einmal.",
    ),
    (
        "Nothing was changed. Please go back and try again.",
        "Es wurde nichts geändert. Bitte gehen Sie zurück und versuchen Sie es noch einmal.",
    ),
    (
        "There is no team or round at this address.",
        "Unter dieser Adresse gibt es kein Team und keine Runde.",
    ),
    ("Back to your teams", "Zurück zu Ihren Teams"),
    (
        "This report is not yours to read",
        "Dieser Bericht ist nicht für Sie freigegeben",
    ),
    (
        "Managers read the teams they lead, the teams below them and the department directly above; HR reads every team.",
        "Führungskräfte lesen die Teams, die sie leiten, die Teams darunter und die Abteilung direkt darüber; HR liest alle Teams.",
    ),
    (
        "You are signed in as an administrator. Administrators configure safepulse but read no results, unless they also hold the HR role.",
        "Sie sind als Admin angemeldet. Admins konfigurieren safepulse, lesen aber keine Ergebnisse, außer sie haben zusätzlich die HR-Rolle.",
    ),
    (
        "Please try again in a few minutes.",
        "Bitte versuchen Sie es in ein paar Minuten noch einmal.",
    ),
    (
        "Managers and HR sign in with a link sent by email: no password to remember.",
        "Führungskräfte und HR melden sich mit einem Link per E-Mail an: kein Passwort, das Sie sich merken müssen.",
    ),
    ("Your work email address", "Ihre dienstliche E-Mail-Adresse"),
    ("Email me a sign-in link", "Anmeldelink per E-Mail senden"),
    (
        "This server has no SMTP configured: the email is written as an .eml file into the mail folder of the data directory (fine for trying safepulse).",
        "Auf diesem Server ist kein SMTP eingerichtet: Die E-Mail wird als .eml-Datei in den Ordner mail des Datenverzeichnisses geschrieben (gut zum Ausprobieren).",
    ),
    (
        "Please enter an email address, like name@example.com.",
        "Bitte geben Sie eine E-Mail-Adresse ein, etwa name@example.com.",
    ),
    ("Sign in to safepulse", "Bei safepulse anmelden"),
    // Sign-in through the OpenID provider (pages/oidc.rs)
    ("Sign in with {}", "Mit {} anmelden"),
    (
        "Administrators: sign in to the admin console with {}",
        "Admins: mit {} bei der Verwaltung anmelden",
    ),
    ("Not signed in", "Nicht angemeldet"),
    ("You are not signed in", "Sie sind nicht angemeldet"),
    (
        "Signing in with {} did not give you access to safepulse. Managers, HR and administrators sign in with the work address their organisation knows them by; if you should have access, ask your HR team.",
        "Die Anmeldung mit {} hat Ihnen keinen Zugang zu safepulse gegeben. Führungskräfte, HR und Admins melden sich mit der dienstlichen Adresse an, unter der ihre Organisation sie kennt; wenn Sie Zugang haben sollten, wenden Sie sich an Ihr HR-Team.",
    ),
    ("Sign-in not available", "Anmeldung nicht verfügbar"),
    (
        "Signing in with {} is not available right now",
        "Die Anmeldung mit {} ist gerade nicht verfügbar",
    ),
    (
        "Sign-in links are switched off",
        "Anmeldelinks sind abgeschaltet",
    ),
    (
        "This server signs managers, HR and administrators in with {} only.",
        "Dieser Server meldet Führungskräfte, HR und Admins nur mit {} an.",
    ),
    (
        "Sign in again, or ask for a sign-in link",
        "Erneut anmelden oder einen Anmeldelink anfordern",
    ),
    (
        "This link works once. Press the button to start a session on this device.",
        "Dieser Link funktioniert einmal. Drücken Sie die Schaltfläche, um auf diesem Gerät eine Sitzung zu beginnen.",
    ),
    (
        "Administrators: sign in to the admin console",
        "Admins: in der Verwaltung anmelden",
    ),
    (
        "Closing ends the round for the {} people invited in these teams:",
        "Das Schließen beendet die Runde für die {} eingeladenen Personen in diesen Teams:",
    ),
    ("Invited", "Eingeladen"),
    (
        "The leaders of these teams then get a digest email with the results they may read.",
        "Die Leitungen dieser Teams erhalten dann eine Zusammenfassung per E-Mail mit den Ergebnissen, die sie lesen dürfen.",
    ),
    ("Monday", "Montag"),
    ("Tuesday", "Dienstag"),
    ("Wednesday", "Mittwoch"),
    ("Thursday", "Donnerstag"),
    ("Friday", "Freitag"),
    ("Saturday", "Samstag"),
    ("Sunday", "Sonntag"),
    ("first week", "erste Woche"),
    ("second week", "zweite Woche"),
    ("third week", "dritte Woche"),
    ("fourth week", "vierte Woche"),
    ("last week", "letzte Woche"),
    // Action plans (dashboard)
    ("Action plan", "Aktionsplan"),
    ("Action plans", "Aktionspläne"),
    ("After", "Nach"),
    ("By when", "Bis wann"),
    ("Change", "Ändern"),
    (
        "Commit to an action after the {}",
        "Eine Maßnahme zusagen nach dem {}",
    ),
    ("Commit to this action", "Diese Maßnahme zusagen"),
    ("Commitment", "Zusage"),
    ("Committed to after {}: {}.", "Zugesagt nach {}: {}."),
    (
        "Dashed line with a flag: an action committed to after that pulse (see the action plan).",
        "Gestrichelte Linie mit Fähnchen: eine Maßnahme, die nach diesem Puls zugesagt wurde (siehe Aktionsplan).",
    ),
    ("Dimension", "Dimension"),
    ("Done", "Erledigt"),
    ("Downloads", "Downloads"),
    ("Due", "Fällig"),
    ("Every commitment", "Alle Zusagen"),
    ("Every commitment, table", "Alle Zusagen, Tabelle"),
    ("Every commitment:", "Alle Zusagen:"),
    ("Mark done", "Als erledigt markieren"),
    ("No commitments yet.", "Noch keine Zusagen."),
    (
        "No team has committed to an action yet.",
        "Noch kein Team hat eine Maßnahme zugesagt.",
    ),
    ("Nothing was saved", "Es wurde nichts gespeichert"),
    (
        "One concrete step the team can notice, for example “A 30-minute retro every second Friday”.",
        "Ein konkreter Schritt, den das Team bemerkt, zum Beispiel „Alle zwei Wochen freitags eine 30-minütige Retro“.",
    ),
    ("Open", "Offen"),
    ("Open again", "Wieder öffnen"),
    ("Open, past its date", "Offen, Termin überschritten"),
    ("Per team and dimension", "Nach Team und Dimension"),
    (
        "Results of the {}, every team:",
        "Ergebnisse: {}, alle Teams:",
    ),
    ("Save the change", "Änderung speichern"),
    (
        "Up to three commitments per pulse: what you will do about a dimension, and by when. They appear on the charts below, in your next digest and for HR; they never change a result.",
        "Bis zu drei Zusagen pro Puls: was Sie zu einer Dimension tun werden und bis wann. Sie erscheinen in den Diagrammen unten, in Ihrer nächsten Zusammenfassung und für HR; an den Ergebnissen ändern sie nie etwas.",
    ),
    (
        "What team leaders committed to after a pulse, in their own words: up to three commitments per team and pulse, each on one dimension, with a date. A commitment never changes a result; the results stay those released for each team.",
        "Was Teamleitungen nach einem Puls zugesagt haben, in ihren eigenen Worten: bis zu drei Zusagen pro Team und Puls, jede zu einer Dimension und mit Termin. Eine Zusage ändert nie ein Ergebnis; es bleiben die für jedes Team freigegebenen Ergebnisse.",
    ),
    (
        "What the team's leaders committed to after a pulse, in their own words.",
        "Was die Leitungen des Teams nach einem Puls zugesagt haben, in ihren eigenen Worten.",
    ),
    ("What you will do", "Was Sie tun werden"),
    (
        "You can commit to actions once a pulse of this team has closed.",
        "Sie können Maßnahmen zusagen, sobald ein Puls dieses Teams abgeschlossen ist.",
    ),
    (
        "You have three commitments for the {}: change one of them, or commit to more after the next pulse.",
        "Sie haben drei Zusagen zum {}: Ändern Sie eine davon, oder sagen Sie nach dem nächsten Puls weitere zu.",
    ),
    ("after the {}", "nach dem {}"),
    ("done", "erledigt"),
    ("due {}", "fällig am {}"),
    ("heatmap", "Heatmap"),
    ("open, past its date", "offen, Termin überschritten"),
    ("{} done", "{} erledigt"),
    ("{} open", "{} offen"),
];

/// The German of every problem a console or dashboard form can show: the API's
/// field errors and conflict details, in its English words, `{}` for a value
/// (kept as given: a time zone, a number, an English day name). Shown through
/// [`super::language::Text::problem`]; its test keeps this list complete and
/// without dead entries.
pub(super) const GERMAN_PROBLEMS: &[(&str, &str)] = &[
    // Names, addresses, time zones, languages, roles
    (
        "must not be empty or only spaces",
        "darf nicht leer sein oder nur aus Leerzeichen bestehen",
    ),
    (
        "must be at most {} characters",
        "darf höchstens {} Zeichen lang sein",
    ),
    (
        "must not contain control characters, line breaks, bidirectional controls or zero-width characters (found {})",
        "darf keine Steuerzeichen, Zeilenumbrüche, Schreibrichtungszeichen oder Zeichen ohne Breite enthalten (gefunden: {})",
    ),
    (
        "an email address needs one @ with a name before it and a domain after it",
        "eine E-Mail-Adresse braucht genau ein @, davor einen Namen und danach eine Domain",
    ),
    (
        "an email address may be at most 254 characters",
        "eine E-Mail-Adresse darf höchstens 254 Zeichen lang sein",
    ),
    (
        "unknown time zone {}; use an IANA name such as Europe/Berlin",
        "unbekannte Zeitzone {}; geben Sie einen IANA-Namen wie Europe/Berlin an",
    ),
    (
        "unsupported locale {}; supported: en, de",
        "die Sprache {} wird nicht unterstützt; möglich sind en und de",
    ),
    (
        "unknown role {}; roles are admin, hr, manager and scim",
        "unbekannte Rolle {}; die Rollen sind admin, hr, manager und scim",
    ),
    ("must be hr or admin", "muss hr oder admin sein"),
    (
        "is required: a team's id, or null for someone who holds role grants only",
        "ist nötig: die ID eines Teams, oder null für jemanden, der nur Rollen hat",
    ),
    // Lists and reports of the API, in the same words for completeness
    (
        "must be between 1 and 200",
        "muss zwischen 1 und 200 liegen",
    ),
    // Webhook endpoints (API only)
    (
        "must be an absolute http or https URL of at most 2,000 characters",
        "muss eine absolute http- oder https-URL mit höchstens 2.000 Zeichen sein",
    ),
    (
        "must name at least one event",
        "muss mindestens ein Ereignis nennen",
    ),
    (
        "must be between 0 and 168",
        "muss zwischen 0 und 168 liegen",
    ),
    (
        "a period key such as 2026-W48, 2026-11 or manual-2026-11-30T09:00:00.000Z",
        "ein Zeitraumschlüssel wie 2026-W48, 2026-11 oder manual-2026-11-30T09:00:00.000Z",
    ),
    (
        "choose one of the listed entries",
        "wählen Sie einen der aufgeführten Einträge",
    ),
    (
        "nobody in safepulse has this address",
        "niemand in safepulse hat diese Adresse",
    ),
    // API tokens
    (
        "{} is not a duration like 30d, 12h or 90m",
        "{} ist keine Dauer wie 30d, 12h oder 90m",
    ),
    (
        "a token lives between 1 minute and 366 days",
        "ein Token gilt zwischen 1 Minute und 366 Tagen",
    ),
    // Surveys: settings and privacy thresholds
    ("name at least one team", "wählen Sie mindestens ein Team"),
    ("enter a whole number", "geben Sie eine ganze Zahl ein"),
    ("choose how often", "wählen Sie, wie oft"),
    (
        "enter a date, YYYY-MM-DD",
        "geben Sie ein Datum ein, JJJJ-MM-TT",
    ),
    (
        "list hours as whole numbers separated by commas, e.g. 48, 72",
        "geben Sie die Stunden als ganze Zahlen mit Kommas getrennt an, z. B. 48, 72",
    ),
    (
        "k must be at least {}, not {}",
        "k muss mindestens {} sein, nicht {}",
    ),
    (
        "k_detail must be at least max(k, {}) = {}, not {}",
        "k_detail muss mindestens max(k, {}) = {} sein, nicht {}",
    ),
    (
        "k and k_detail must be below 2^31",
        "k und k_detail müssen unter 2^31 liegen",
    ),
    (
        "window_hours must be between {} and {}",
        "das Antwortfenster muss zwischen {} und {} Stunden lang sein",
    ),
    (
        "window_hours ({}) must not be longer than the time between rounds ({} hours)",
        "das Antwortfenster ({} Stunden) darf nicht länger sein als die Zeit zwischen zwei Runden ({} Stunden)",
    ),
    (
        "at most {} reminders per round",
        "höchstens {} Erinnerungen pro Runde",
    ),
    (
        "a reminder after {} hours is outside the answer window of {} hours",
        "eine Erinnerung nach {} Stunden liegt außerhalb des Antwortfensters von {} Stunden",
    ),
    (
        "every_n_weeks needs `weeks` (1–8)",
        "„alle n Wochen“ braucht die Zahl der Wochen (1–8)",
    ),
    (
        "weekday {} is not a day of the week (monday … sunday)",
        "{} ist kein Wochentag (monday … sunday)",
    ),
    (
        "{} is not a local time like 09:30",
        "{} ist keine Uhrzeit wie 09:30",
    ),
    (
        "every {} weeks is not supported; choose every 1 to {} weeks",
        "alle {} Wochen ist nicht möglich; wählen Sie alle 1 bis {} Wochen",
    ),
    (
        "{} is a weekend day; choose Monday to Friday, or allow weekends for this survey",
        "{} ist ein Wochenendtag; wählen Sie Montag bis Freitag, oder erlauben Sie Wochenenden für diese Befragung",
    ),
    (
        "{} is inside the quiet hours ({}–{}); choose a time from {} to {}",
        "{} liegt in der Ruhezeit ({}–{}); wählen Sie eine Uhrzeit von {} bis {}",
    ),
    (
        "quiet hours must start and end at different times",
        "die Ruhezeit muss zu verschiedenen Zeiten beginnen und enden",
    ),
    (
        "a rotating plan asks {}–{} agreement items per round ({} in total including the recommendation item), not {}",
        "ein rotierender Plan stellt {}–{} Zustimmungsfragen pro Runde ({} insgesamt mit der Empfehlungsfrage), nicht {}",
    ),
    (
        "the recommendation item can be asked every 1 to {} rounds, not every {}",
        "die Empfehlungsfrage kann alle 1 bis {} Runden gestellt werden, nicht alle {}",
    ),
    (
        "a fixed item list has 1–{} items, not {}",
        "eine feste Fragenliste hat 1–{} Fragen, nicht {}",
    ),
    (
        "item {} is not in the item bank",
        "die Frage {} ist nicht im Fragenkatalog",
    ),
    (
        "item {} is listed more than once",
        "die Frage {} steht mehr als einmal in der Liste",
    ),
    // CSV import rows
    (
        "the first line must be the header {}",
        "die erste Zeile muss die Kopfzeile {} sein",
    ),
    (
        "the file looks separated by semicolons, as spreadsheets save CSV in some languages; save it separated by commas",
        "die Datei scheint mit Semikolons getrennt zu sein, wie Tabellenprogramme CSV in manchen Sprachen speichern; speichern Sie sie mit Kommas getrennt",
    ),
    (
        "at most {} rows per import",
        "höchstens {} Zeilen pro Import",
    ),
    ("already on line {}", "steht schon in Zeile {}"),
    (
        "expected {} columns, found {}",
        "{} Spalten erwartet, {} gefunden",
    ),
    (
        "a path like Engineering/Platform of at most {} levels",
        "ein Pfad wie Engineering/Platform mit höchstens {} Ebenen",
    ),
    ("level {} {}", "Ebene {}: {}"),
    ("{} is not true or false", "{} ist weder true noch false"),
    // Action plans
    (
        "choose one of the dimensions (psychological_safety, trust, empathy, feedback, clarity, rapport, vulnerability, wellbeing)",
        "wählen Sie eine der Dimensionen (psychological_safety, trust, empathy, feedback, clarity, rapport, vulnerability, wellbeing)",
    ),
    ("say what you will do", "schreiben Sie, was Sie tun werden"),
    ("at most {} characters", "höchstens {} Zeichen"),
    ("no control characters", "keine Steuerzeichen"),
    ("a date such as 2026-12-31", "ein Datum wie 2026-12-31"),
    ("a date from today on", "ein Datum ab heute"),
    ("at most a year ahead", "höchstens ein Jahr im Voraus"),
    (
        "no closed pulse to plan for",
        "es gibt keinen abgeschlossenen Puls, für den Sie planen können",
    ),
    ("no such round", "diese Runde gibt es nicht"),
    // Refusals shown on their own page
    ("some fields are invalid", "einige Felder sind ungültig"),
    ("your role may not do this", "Ihre Rolle darf das nicht"),
    // Conflicts with what is stored
    (
        "a team cannot be moved below itself or one of its sub-teams",
        "ein Team kann nicht unter sich selbst oder eines seiner Unterteams verschoben werden",
    ),
    (
        "the team still has sub-teams or people; move them first",
        "das Team hat noch Unterteams oder Personen; verschieben Sie diese zuerst",
    ),
    (
        "the survey has started already",
        "die Befragung hat schon begonnen",
    ),
    (
        "the survey is a draft: start it first",
        "die Befragung ist ein Entwurf: starten Sie sie zuerst",
    ),
    (
        "the survey is archived and cannot change",
        "die Befragung ist archiviert und kann nicht mehr geändert werden",
    ),
    (
        "a survey still asks this team; take it out of the survey first",
        "eine Befragung fragt dieses Team noch; nehmen Sie es zuerst aus der Befragung",
    ),
    (
        "the team has pulse rounds, whose reports would lose their team; rename or move it instead",
        "das Team hat Pulsrunden, deren Berichte ihr Team verlören; benennen Sie es stattdessen um oder verschieben Sie es",
    ),
    (
        "another team with this name already has the same parent",
        "ein anderes Team mit diesem Namen hat schon dasselbe übergeordnete Team",
    ),
    (
        "the parent team does not exist",
        "das übergeordnete Team gibt es nicht",
    ),
    ("the team does not exist", "das Team gibt es nicht"),
    ("the person does not exist", "die Person gibt es nicht"),
    (
        "an entry with these unique values already exists",
        "ein Eintrag mit diesen Werten existiert schon",
    ),
    (
        "something else still refers to this entry",
        "etwas anderes verweist noch auf diesen Eintrag",
    ),
    (
        "a round's results, and plans about them, come after it closes",
        "die Ergebnisse einer Runde und Pläne dazu gibt es erst, wenn sie abgeschlossen ist",
    ),
    (
        "this round did not ask the team",
        "diese Runde hat das Team nicht befragt",
    ),
    (
        "the team already has three commitments for this round; edit one instead",
        "das Team hat schon drei Zusagen zu dieser Runde; ändern Sie stattdessen eine davon",
    ),
    (
        "the request conflicts with the current state",
        "die Anfrage passt nicht zum aktuellen Stand",
    ),
    (
        "the survey is {}; resume it to open rounds",
        "die Befragung ist {}; setzen Sie sie fort, um Runden zu öffnen",
    ),
    (
        "the survey already has an open round; close it first",
        "die Befragung hat schon eine offene Runde; schließen Sie diese zuerst",
    ),
    (
        "nobody to invite: the survey's teams have no active people with a deliverable address",
        "es gibt niemanden einzuladen: die Teams der Befragung haben keine aktiven Personen mit zustellbarer Adresse",
    ),
    (
        "only an open round can be discarded",
        "nur eine offene Runde kann verworfen werden",
    ),
];
